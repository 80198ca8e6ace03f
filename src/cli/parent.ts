/**
 * A command started with an IPC channel (as `seqae demo` starts its worker and producer) stops as
 * on SIGTERM when the channel closes: its parent has exited, however (SIGKILL included), and
 * nothing else would stop it. Without a channel (a shell, systemd, a container) nothing changes.
 */
export function stopWithParent(): void {
  if (!process.channel) return;
  process.channel.unref(); // the channel alone must not keep a finished command running
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
