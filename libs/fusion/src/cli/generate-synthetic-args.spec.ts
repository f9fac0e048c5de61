import { parseGenerateSyntheticArgs, UsageError } from './generate-synthetic-args.js';

describe('parseGenerateSyntheticArgs', () => {
  it('fills defaults and reads every option', () => {
    expect(parseGenerateSyntheticArgs(['--out', '/tmp/d'])).toEqual({ outDir: '/tmp/d', numCases: 800, seed: 7, imageSize: 64 });
    expect(parseGenerateSyntheticArgs(['--out', 'd', '--cases', '600', '--seed', '0', '--size', '32'])).toEqual({ outDir: 'd', numCases: 600, seed: 0, imageSize: 32 });
    expect(parseGenerateSyntheticArgs(['--help'])).toEqual({ help: true });
    expect(parseGenerateSyntheticArgs(['--out', 'd', '--views', '2', '--masks'])).toEqual({ outDir: 'd', numCases: 800, seed: 7, imageSize: 64, views: 2, masks: true });
  });

  it.each([
    [[], /--out <dir> is required/],
    [['--out', 'd', '--cases', '5'], /--cases must be an integer from 10 to 1000000, got "5"/],
    [['--out', 'd', '--cases', '1e3'], /--cases must be an integer/],
    [['--out', 'd', '--seed', 'seven'], /--seed must be an integer from 0 to 4294967295, got "seven"/],
    [['--out', 'd', '--size', '2000'], /--size must be an integer from 16 to 1024/],
    [['--out', 'd', '--views', '3'], /--views must be an integer from 1 to 2, got "3"/],
    [['--out', 'd', '--case', '600'], /Unknown option '--case'[\s\S]*usage: generate-synthetic/],
    [['--out', 'd', 'extra'], /usage: generate-synthetic/],
  ])('rejects %j with a message that says what to fix', (argv, message) => {
    expect(() => parseGenerateSyntheticArgs(argv)).toThrow(UsageError);
    expect(() => parseGenerateSyntheticArgs(argv)).toThrow(message);
  });
});
