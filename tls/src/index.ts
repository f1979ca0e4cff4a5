export {
  ensureCertificate,
  ensureLocalCa,
  type IssuedCertificate,
  type IssueOptions,
  issueCertificate,
  type LocalCa,
  spkiSha256,
} from './local-ca.ts';
export {
  checkedToken,
  isLoopbackAddress,
  isLoopbackHost,
  type MetricsAccess,
  type MetricsVerdict,
  metricsAccessFromEnv,
  metricsAllowed,
  metricsVerdict,
  publicMetricsWarning,
} from './metrics-access.ts';
export { readCaFile, readServerTls, reloadOnChange, type TlsFiles } from './server-tls.ts';
