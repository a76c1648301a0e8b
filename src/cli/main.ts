import { initPrisma, USAGE } from './init-prisma.js';

const io = {
  cwd: process.cwd(),
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

async function main(argv: string[]): Promise<number> {
  const [command, target, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'init' && target === 'prisma') return initPrisma(rest, io);
  io.err(`flagtrail: unknown command "${argv.join(' ')}"\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    io.err(`flagtrail: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
