import type { NextConfig } from 'next';

const config: NextConfig = {
  reactStrictMode: true,
  // The shared contracts are published as TypeScript source.
  transpilePackages: ['@cctv/protocol'],
  typescript: { ignoreBuildErrors: false },
  poweredByHeader: false,
  // Where `next build` writes and `next start` reads: one build per checkout by default; a
  // second folder lets two builds of different trees coexist.
  distDir: process.env.NEXT_DIST_DIR || '.next',
};

export default config;
