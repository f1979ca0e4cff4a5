/** The body of every refusal the master's API sends: `{error:{code,message}}`. */
export const errorBody = (code: string, message: string) => ({ error: { code, message } });
