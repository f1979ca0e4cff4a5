/**
 * The one-line agent install (docs/adr/0016): an admin asks for an install line carrying a
 * single-use enrolment token; the script it runs checks the token, downloads the agent release,
 * enrols (burning the token) and waits until the master reports the node online. Browser-safe:
 * schemas only.
 */
import { type Static, Type } from '@sinclair/typebox';
import { NodeId } from './ids.ts';
import { Nullable } from './nullable.ts';

/** How long an install line works, in minutes. */
export const INSTALL_TTL_MINUTES = { min: 5, max: 1440, default: 30 } as const;

/** The CPU architectures releases are built for (`scripts/release.ts`). */
export const RELEASE_ARCHES = ['x64', 'arm64'] as const;
export type ReleaseArch = (typeof RELEASE_ARCHES)[number];
export const ReleaseArch = Type.Union(RELEASE_ARCHES.map((a) => Type.Literal(a)));

/** `POST /api/nodes/:id/install-token` (admins); without `ttlMinutes`, the line works 30 minutes. */
export const InstallTokenRequest = Type.Object(
  {
    ttlMinutes: Type.Optional(
      Type.Integer({ minimum: INSTALL_TTL_MINUTES.min, maximum: INSTALL_TTL_MINUTES.max }),
    ),
  },
  { additionalProperties: false },
);
export type InstallTokenRequest = Static<typeof InstallTokenRequest>;

/** The line to paste on the new host, shown once: the token is in it and nowhere else. */
export const InstallTokenAnswer = Type.Object({
  nodeId: Type.String(),
  line: Type.String(),
  expiresAt: Type.String(),
  /** sha256 (hex) of the master's CA certificate (`GET /install/ca.pem`), pinned by the line. */
  caSha256: Type.String(),
});
export type InstallTokenAnswer = Static<typeof InstallTokenAnswer>;

/**
 * The token as the install script sends it. Any string up to 128 characters reaches the check,
 * so that an altered token is answered `TOKEN_UNKNOWN` like any other unknown one.
 */
const InstallToken = Type.String({ minLength: 1, maxLength: 128 });

/** `POST /install/check`: is the token good, and which release to fetch for this host. */
export const InstallCheckRequest = Type.Object(
  { token: InstallToken, arch: ReleaseArch },
  { additionalProperties: false },
);
export type InstallCheckRequest = Static<typeof InstallCheckRequest>;

/** The release the host is to install: `GET /install/releases/:arch?version=`. */
export const InstallRelease = Type.Object({
  version: Type.String(),
  file: Type.String(),
  sha256: Type.String(),
});
export type InstallRelease = Static<typeof InstallRelease>;

export const InstallCheckAnswer = Type.Object({
  nodeId: Type.String(),
  expiresAt: Type.String(),
  release: InstallRelease,
});
export type InstallCheckAnswer = Static<typeof InstallCheckAnswer>;

/** `POST /install/enrol`: burns the token and issues the node's credential. */
export const InstallEnrolRequest = Type.Object(
  {
    token: InstallToken,
    /** The host's own name, for the audit log. */
    hostname: Type.Optional(Type.String({ maxLength: 253 })),
  },
  { additionalProperties: false },
);
export type InstallEnrolRequest = Static<typeof InstallEnrolRequest>;

/** What the agent's configuration needs, shown once. */
export const InstallEnrolment = Type.Object({
  nodeId: Type.String(),
  username: Type.String(),
  password: Type.String(),
  uploadToken: Type.String(),
  mqttUrl: Type.String(),
  gatewayUrl: Type.String(),
  /** The master's CA certificate (PEM): the agent's only trust anchor (`tls.ca`). */
  ca: Type.String(),
});
export type InstallEnrolment = Static<typeof InstallEnrolment>;

/** `GET /install/releases/:arch`. */
export const InstallArchParams = Type.Object({ arch: ReleaseArch });
export type InstallArchParams = Static<typeof InstallArchParams>;

export const InstallReleaseQuery = Type.Object(
  { version: Type.Optional(Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]+)?$' })) },
  { additionalProperties: false },
);
export type InstallReleaseQuery = Static<typeof InstallReleaseQuery>;

/** `GET /install/nodes/:id/status`, with the node's upload token as `Authorization: Bearer`. */
export const InstallNodeParams = Type.Object({ id: NodeId });
export type InstallNodeParams = Static<typeof InstallNodeParams>;

export const InstallNodeStatus = Type.Object({
  nodeId: Type.String(),
  /** The node's state at the master (`online`, `stale`, `offline`), or `unknown` before its first status. */
  state: Type.Union([
    Type.Literal('online'),
    Type.Literal('stale'),
    Type.Literal('offline'),
    Type.Literal('unknown'),
  ]),
  agentVersion: Nullable(Type.String()),
});
export type InstallNodeStatus = Static<typeof InstallNodeStatus>;
