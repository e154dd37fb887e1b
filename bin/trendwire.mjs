#!/usr/bin/env node
// Launcher for the npm "bin" entry: registers tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api'
register()
await import('./trendwire.ts')
