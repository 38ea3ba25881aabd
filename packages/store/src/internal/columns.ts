/** Schema helpers shared by the repositories: snake_case columns onto camelCase fields. */
import { Schema } from "effect"

/** A field decoded from the column `name`: the row keeps the database's name, the model gets the field's. */
export const column = <K extends string, S extends Schema.Schema.All>(name: K, schema: S) =>
  Schema.propertySignature(schema).pipe(Schema.fromKey(name))

/** A `timestamptz` column: the driver returns a `Date`; models carry `DateTime.Utc`. */
export const Timestamp = Schema.DateTimeUtcFromDate

/** A nullable `timestamptz` column as an `Option`. */
export const OptionalTimestamp = Schema.OptionFromNullOr(Schema.DateTimeUtcFromDate)

/**
 * A `numeric` column read as a JS number. The driver returns numerics as strings to keep their precision;
 * use this only where a double is precise enough (fees, statistics), and `Schema.BigDecimal` elsewhere.
 */
export const NumericAsNumber = Schema.NumberFromString

/** A `bigint` column whose values stay below 2^53 (ids, epoch milliseconds): the driver returns strings. */
export const BigintAsNumber = Schema.NumberFromString.pipe(Schema.int())
