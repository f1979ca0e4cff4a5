import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PlaybackGrant } from '@cctv/protocol';
import type { ErrorData } from 'hls.js';
import {
  describeHlsError,
  describeMediaError,
  type PlaybackErrorTexts,
  playableUrl,
  playbackErrorText,
} from '../features/playback/playback.ts';

/** The fields of hls.js's error data that are described. */
const hlsError = (d: { type: string; details: string; code?: number; error?: Error; reason?: string }) =>
  ({
    type: d.type,
    details: d.details,
    fatal: true,
    ...(d.code === undefined ? {} : { response: { code: d.code, text: '' } }),
    ...(d.error ? { error: d.error } : {}),
    ...(d.reason ? { reason: d.reason } : {}),
  }) as unknown as ErrorData;

describe('describeHlsError', () => {
  it('gives the type and details', () => {
    assert.equal(
      describeHlsError(hlsError({ type: 'mediaError', details: 'bufferStalledError' })),
      'mediaError: bufferStalledError',
    );
  });

  it('adds the HTTP status, the error and the reason', () => {
    assert.equal(
      describeHlsError(
        hlsError({
          type: 'networkError',
          details: 'manifestLoadError',
          code: 403,
          error: new Error('grant expired'),
          reason: 'refused',
        }),
      ),
      'networkError: manifestLoadError — HTTP 403 — grant expired — refused',
    );
  });

  it('does not repeat an error message the details already say', () => {
    assert.equal(
      describeHlsError(
        hlsError({ type: 'networkError', details: 'fragLoadError', error: new Error('fragLoadError') }),
      ),
      'networkError: fragLoadError',
    );
  });

  it('leaves out a status of 0 (no answer)', () => {
    assert.equal(
      describeHlsError(hlsError({ type: 'networkError', details: 'fragLoadTimeOut', code: 0 })),
      'networkError: fragLoadTimeOut',
    );
  });
});

describe('describeMediaError', () => {
  const video = (error: { code: number; message: string } | null) =>
    ({ error }) as unknown as HTMLVideoElement;

  it('gives the code and the message of the element error', () => {
    assert.equal(
      describeMediaError(video({ code: 3, message: 'PIPELINE_ERROR_DECODE' })),
      'media error 3: PIPELINE_ERROR_DECODE',
    );
    assert.equal(describeMediaError(video({ code: 4, message: '' })), 'media error 4');
  });

  it('says the browser could not play when there is no error', () => {
    assert.equal(describeMediaError(video(null)), 'the browser could not play this stream');
  });
});

describe('playbackErrorText', () => {
  const texts: PlaybackErrorTexts = {
    access: 'You may not watch this camera.',
    network: (m) => `Lost the recording: ${m}`,
    decode: (m) => `Cannot decode: ${m}`,
  };

  it('reads a refused grant the same in every player', () => {
    assert.equal(
      playbackErrorText({ kind: 'error', cause: 'grant', message: 'no recording in this range' }, texts),
      'Could not open the recording (no recording in this range).',
    );
  });

  it('takes the player own words for the other causes', () => {
    assert.equal(
      playbackErrorText({ kind: 'error', cause: 'access', message: 'forbidden' }, texts),
      texts.access,
    );
    assert.equal(
      playbackErrorText({ kind: 'error', cause: 'network', message: 'HTTP 502' }, texts),
      'Lost the recording: HTTP 502',
    );
    assert.equal(
      playbackErrorText({ kind: 'error', cause: 'decode', message: 'code 3' }, texts),
      'Cannot decode: code 3',
    );
  });
});

describe('playableUrl', () => {
  const grant = {
    playlistUrl: 'https://gw/v1/g/abc/cam1/index.m3u8',
    h264PlaylistUrl: 'https://gw/v1/g/abc/cam1/h264/index.m3u8',
  } as PlaybackGrant;
  const g = globalThis as { MediaSource?: unknown };

  afterEach(() => {
    delete g.MediaSource;
  });

  it('plays the recording as is where the browser decodes H.265', () => {
    const asked: string[] = [];
    g.MediaSource = {
      isTypeSupported: (type: string) => {
        asked.push(type);
        return true;
      },
    };
    assert.equal(playableUrl(grant), grant.playlistUrl);
    assert.match(asked[0] ?? '', /^video\/mp4; codecs="hvc1\./);
  });

  it('plays the H.264 rendition elsewhere', () => {
    g.MediaSource = { isTypeSupported: () => false };
    assert.equal(playableUrl(grant), grant.h264PlaylistUrl);
  });
});
