// trendwire command line. Each sub-command lives in bin/commands/<name>.ts and exports
// "default async function (argv: string[]): Promise<number | void>" plus a one-line "summary".
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const commandsDir = join(here, 'commands')

function commandUrl(name: string): string {
  return pathToFileURL(join(commandsDir, name + '.ts')).href
}

function available(): string[] {
  return readdirSync(commandsDir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort()
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2)
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log('usage: trendwire <command> [options]\n\ncommands:')
    for (const name of available()) {
      const summary = await import(commandUrl(name)).then((m) => m.summary ?? '', (e: Error) => `(cannot load: ${e.message})`)
      console.log(`  ${name.padEnd(12)} ${summary}`)
    }
    return cmd ? 0 : 1
  }
  if (!available().includes(cmd)) {
    console.error(`trendwire: unknown command "${cmd}" (try: ${available().join(', ')})`)
    return 2
  }
  const mod = await import(commandUrl(cmd))
  const code = await mod.default(rest)
  return typeof code === 'number' ? code : 0
}

main().then(
  (code) => { process.exitCode = code },
  (err) => {
    console.error(`trendwire: ${err instanceof Error ? err.message : String(err)}`)
    if (process.env.TRENDWIRE_DEBUG) console.error(err)
    process.exitCode = 1
  },
)
