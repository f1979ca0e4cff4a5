/** Which streams a live source carries: the video codec, and the audio codec if any. */
import { execFile } from 'node:child_process';
import type { LiveStreams } from './live-plan.ts';

export async function probeLiveStreams(input: string[], timeoutMs: number): Promise<LiveStreams> {
  const location = input.at(-1) ?? '';
  const args = [
    '-v',
    'error',
    '-analyzeduration',
    '1000000',
    ...input.slice(0, -2),
    '-show_entries',
    'stream=codec_type,codec_name',
    '-of',
    'json',
    location,
  ];
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile('ffprobe', args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, out, stderr) => {
      if (err) {
        const line = stderr.trim().split('\n').at(-1);
        reject(new Error(err.killed ? `no answer in ${timeoutMs / 1000} s` : line || err.message));
      } else resolve(out);
    }),
  );
  const streams =
    (JSON.parse(stdout) as { streams?: { codec_type?: string; codec_name?: string }[] }).streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video')?.codec_name;
  if (!video) throw new Error('no video stream found');
  return { video, audio: streams.find((s) => s.codec_type === 'audio')?.codec_name ?? null };
}
