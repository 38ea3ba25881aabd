export * as AlertRules from "./AlertRules.js"
export * as MacdV from "./MacdV.js"
export * as Stage from "./Stage.js"
