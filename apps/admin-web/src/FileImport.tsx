/** A labelled file picker that hands over the chosen file and resets, so the same file can be imported again. */
export const FileImport = (props: { label: string; name: string; accept: string; onFile: (file: File) => void }) => (
  <label className="file">
    {props.label}{" "}
    <input
      name={props.name}
      type="file"
      accept={props.accept}
      onChange={(e) => {
        const file = e.target.files?.[0]
        if (file !== undefined) props.onFile(file)
        e.target.value = ""
      }}
    />
  </label>
)
