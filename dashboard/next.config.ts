import type { NextConfig } from 'next';

const config: NextConfig = {
  reactStrictMode: true,
  // The shared contracts are published as TypeScript source.
  transpilePackages: ['@cctv/protocol'],
  typescript: { ignoreBuildErrors: false },
  poweredByHeader: false,
};

export default config;
