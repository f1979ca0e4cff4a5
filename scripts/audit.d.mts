export interface Advisory {
  id: string;
  source: number;
  package: string;
  severity: string;
  title: string;
  url: string;
  range: string;
  fixAvailable?: unknown;
}
export interface AllowEntry {
  id: string;
  package: string;
  reason: string;
  expires: string;
}
export declare const ALLOWLIST_FILE: string;
export declare const MAX_ALLOW_DAYS: number;
/** The advisories of an npm audit report, once each; throws on a report npm could not make. */
export declare function advisories(report: unknown): Advisory[];
/** The verdict over one report and the allowlist on `today` (UTC `YYYY-MM-DD`). */
export declare function evaluate(
  report: unknown,
  allowlist: unknown,
  today: string,
): {
  failures: string[];
  allowed: { advisory: Advisory; entry: AllowEntry }[];
  unused: AllowEntry[];
  minor: Record<string, number>;
  total: number;
};
