export * from './alerts.ts';
export * from './auth-api.ts';
export * from './clock.ts';
export * from './cluster.ts';
export * from './commands.ts';
export * from './event-query.ts';
export * from './events.ts';
export * from './fleet-api.ts';
export * from './grants.ts';
export * from './http/master-routes.ts';
export * from './ids.ts';
export * from './install.ts';
export * from './live.ts';
export * from './messages.ts';
export * from './node-config.ts';
export * from './notifications.ts';
export * from './probe.ts';
export * from './security.ts';
export * from './segments.ts';
export * from './topics.ts';
export * from './validate.ts';

import { TimeAnswer, TimeRequest } from './clock.ts';
import { ClusterMessage } from './cluster.ts';
import { CameraSpec, CommandReply, CommandRequest, ConfigCommandArgs, PingResult } from './commands.ts';
import { DetectSpec, EventMessage } from './events.ts';
import { GrantClaims } from './grants.ts';
import {
  JsmpegOpenArgs,
  JsmpegOpenResult,
  LiveClientMessage,
  LiveHlsOpenArgs,
  LiveHlsOpenResult,
  WebrtcCandidatesArgs,
  WebrtcCloseArgs,
  WebrtcOfferArgs,
  WebrtcOfferResult,
} from './live.ts';
import { HeartbeatMessage, HelloMessage, StatusMessage } from './messages.ts';
import { ProbeArgs, ProbeResult } from './probe.ts';
import { CameraMovedArgs } from './security.ts';
import { compile } from './validate.ts';

/** Compiled validators shared by the agent (before publishing) and the master (on receipt). */
export const validators = {
  status: compile(StatusMessage),
  hello: compile(HelloMessage),
  heartbeat: compile(HeartbeatMessage),
  commandRequest: compile(CommandRequest),
  commandReply: compile(CommandReply),
  configCommandArgs: compile(ConfigCommandArgs),
  cameraSpec: compile(CameraSpec),
  pingResult: compile(PingResult),
  event: compile(EventMessage),
  detectSpec: compile(DetectSpec),
  webrtcOfferArgs: compile(WebrtcOfferArgs),
  webrtcOfferResult: compile(WebrtcOfferResult),
  webrtcCandidatesArgs: compile(WebrtcCandidatesArgs),
  webrtcCloseArgs: compile(WebrtcCloseArgs),
  jsmpegOpenArgs: compile(JsmpegOpenArgs),
  jsmpegOpenResult: compile(JsmpegOpenResult),
  liveHlsOpenArgs: compile(LiveHlsOpenArgs),
  liveHlsOpenResult: compile(LiveHlsOpenResult),
  liveClientMessage: compile(LiveClientMessage),
  grantClaims: compile(GrantClaims),
  cameraMovedArgs: compile(CameraMovedArgs),
  probeArgs: compile(ProbeArgs),
  probeResult: compile(ProbeResult),
  timeRequest: compile(TimeRequest),
  timeAnswer: compile(TimeAnswer),
  clusterMessage: compile(ClusterMessage),
};
