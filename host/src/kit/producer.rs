//! The producer checks. One producer's life is three checks: it runs and emits events the
//! host accepts (or waits for outside input, like an HTTP server); it stops promptly when
//! asked; it emits nothing once `on_stop` returned. A second instance meets a full log:
//! it must wait without spinning, emit again once there is room, and still stop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::child::{Ctx, Verdict};
use crate::config::{LogConfig, Policy, Start};
use crate::loader::{EmitTarget, HookError, Instance};
use crate::log::{Batch, ConsumerId, Log, Read};
use crate::stats::Stats;

/// How long a producer runs before it is asked to stop.
const RUN_FOR: Duration = Duration::from_secs(1);
/// How long the kit watches for emits after `on_stop` returned.
const AFTER_STOP: Duration = Duration::from_millis(300);
/// The backpressure check's log: small, so that a producer fills it quickly.
const SMALL_LOG: usize = 256;
/// Above this share of one CPU while the log is full, a producer is spinning.
const SPINNING: f64 = 0.5;

/// A started producer: its instance, and the host thread running `on_run` (if it has one).
struct Running {
    instance: Arc<Instance>,
    on_run: Option<JoinHandle<Result<(), HookError>>>,
}

impl Running {
    fn start(ctx: &Ctx, log: &Arc<Log>) -> Result<Running, String> {
        let target = EmitTarget::log(log.clone(), 2 << 20);
        let instance = Arc::new(
            ctx.create("test-plugin", &ctx.config, Some(target))
                .map_err(|e| format!("on_create refused the config that worked before: {e}"))?,
        );
        if instance.runs_on_host_thread() {
            let runner = instance.clone();
            let on_run = std::thread::Builder::new()
                .name("test-plugin-run".into())
                .spawn(move || runner.run())
                .map_err(|e| format!("the kit cannot start a thread: {e}"))?;
            return Ok(Running { instance, on_run: Some(on_run) });
        }
        match ctx.reporter.hook("on_start", ctx.hook_timeout, || instance.start()) {
            Ok(()) => Ok(Running { instance, on_run: None }),
            Err(e) => {
                ctx.destroy(instance);
                Err(format!("on_start answered {e}"))
            }
        }
    }

    /// on_run's result once it returned by itself.
    fn finished(&mut self) -> Option<Result<(), HookError>> {
        match &self.on_run {
            Some(thread) if thread.is_finished() => {
                Some(self.on_run.take().expect("present").join().expect("a plugin's panic cannot unwind out of on_run"))
            }
            _ => None,
        }
    }

    /// `on_stop`, then waits for `on_run` to return: one deadline for both.
    fn stop(&mut self, ctx: &Ctx) -> (Duration, Option<Result<(), HookError>>) {
        let asked = Instant::now();
        let result = ctx.reporter.hook("on_stop (and on_run returning)", ctx.hook_timeout, || {
            self.instance.stop();
            self.on_run.take().map(|thread| thread.join().expect("a plugin's panic cannot unwind out of on_run"))
        });
        (asked.elapsed(), result)
    }

    fn emitted(&self) -> (u64, u64) {
        let stats = &self.instance.host.stats;
        (Stats::get(&stats.events), Stats::get(&stats.batches))
    }

    /// Emits tried so far, refused ones too.
    fn attempts(&self) -> u64 {
        let stats = &self.instance.host.stats;
        Stats::get(&stats.batches) + Stats::get(&stats.errors)
    }

    fn refused(&self) -> Option<String> {
        let stats = &self.instance.host.stats;
        let errors = Stats::get(&stats.errors);
        (errors > 0).then(|| {
            format!(
                "{errors} emit(s) refused; the host said: {}",
                stats.last_error().unwrap_or_else(|| "nothing".into())
            )
        })
    }
}

/// Reads and acknowledges everything in the log, as a consumer would, until dropped.
struct Drain {
    done: Arc<AtomicBool>,
    read: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Drain {
    fn start(log: &Arc<Log>, cursor: ConsumerId) -> Drain {
        let (done, read) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (log, stop, count) = (log.clone(), done.clone(), read.clone());
        let thread = std::thread::spawn(move || {
            let mut batch = Batch::default();
            while !stop.load(Ordering::Acquire) {
                let seen = log.seen();
                match log.try_read(cursor, 4096, &mut batch) {
                    Read::Events { .. } => {
                        count.fetch_add(batch.len() as u64, Ordering::Relaxed);
                        log.commit(cursor, &mut batch);
                    }
                    Read::Empty => log.wait(seen, Some(Instant::now() + Duration::from_millis(20))),
                    Read::End => break,
                }
            }
        });
        Drain { done, read, thread: Some(thread) }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn new_log(capacity: usize) -> (Arc<Log>, ConsumerId) {
    let log = Arc::new(Log::new(&LogConfig::memory(capacity, 64 << 20)));
    let cursor = log.join("test-plugin", Policy::Block, Start::End);
    (log, cursor)
}

/// Waits up to `limit` for on_run to return by itself.
fn watch(running: &mut Running, limit: Duration) -> Option<Result<(), HookError>> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(result) = running.finished() {
            return Some(result);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// `run`, `stop` and `after-stop`, reported as three checks.
pub fn lifecycle(ctx: &Ctx) {
    ctx.begin("run");
    let (log, cursor) = new_log(65_536);
    let drain = Drain::start(&log, cursor);
    let mut running = match Running::start(ctx, &log) {
        Ok(running) => running,
        Err(fault) => {
            ctx.row("run", Verdict::fail(fault));
            for id in ["stop", "after-stop"] {
                ctx.row(id, Verdict::skip("not run: the producer did not start".into()));
            }
            return;
        }
    };
    let ended = watch(&mut running, RUN_FOR);
    let (events, batches) = running.emitted();
    let verdict = match (&ended, running.refused()) {
        (_, Some(refused)) => Verdict::fail(refused),
        (Some(Err(e)), None) => Verdict::fail(format!("on_run answered {e} after {events} event(s)")),
        (Some(Ok(())), None) => {
            Verdict::pass(format!("on_run returned EVH_OK after {events} event(s) in {batches} emit(s)"))
        }
        (None, None) if events == 0 => {
            Verdict::pass(format!("emitted nothing in {RUN_FOR:?}; a producer that waits for outside input passes"))
        }
        (None, None) => Verdict::pass(format!("{events} event(s) in {batches} emit(s) in {RUN_FOR:?}")),
    };
    ctx.row("run", verdict);

    ctx.begin("stop");
    let (took, after) = running.stop(ctx);
    let verdict = match after {
        Some(Err(e)) if e.status != evhost_abi::EVH_STOPPED => {
            Verdict::fail(format!("on_run answered {e} when asked to stop"))
        }
        _ => Verdict::pass(format!("stopped {took:.1?} after it was asked")),
    };
    ctx.row("stop", verdict);

    ctx.begin("after-stop");
    let before = running.attempts();
    std::thread::sleep(AFTER_STOP);
    let late = running.attempts() - before;
    drop(drain);
    let verdict = match late {
        0 => Verdict::pass(None),
        late => Verdict::fail(format!("called emit {late} time(s) in the {AFTER_STOP:?} after on_stop returned")),
    };
    ctx.destroy(running.instance);
    ctx.row("after-stop", verdict);
}

/// A full log: the producer waits without spinning, emits again once there is room, stops.
pub fn backpressure(ctx: &Ctx) -> Verdict {
    let (log, cursor) = new_log(SMALL_LOG);
    let mut running = match Running::start(ctx, &log) {
        Ok(running) => running,
        Err(fault) => return Verdict::fail(fault),
    };
    let cpu = Cpu::now();
    let ended = watch(&mut running, RUN_FOR);
    let busy = cpu.share();
    let (full, _) = running.emitted();
    let mut faults = Vec::new();
    let mut skip = None;
    match ended {
        Some(Err(e)) => faults.push(format!("on_run answered {e} while the log was full ({full} events in it)")),
        Some(Ok(())) if (full as usize) < SMALL_LOG => {
            skip = Some(format!("on_run returned after {full} event(s), before a log of {SMALL_LOG} filled"))
        }
        _ if (full as usize) < SMALL_LOG => {
            skip = Some(format!("emitted {full} event(s) in {RUN_FOR:?}, too few to fill a log of {SMALL_LOG}"))
        }
        _ => {}
    }
    if skip.is_none() && faults.is_empty() && busy > SPINNING {
        faults
            .push(format!("used {:.0}% of a CPU while the log was full: it tries again without waiting", busy * 100.0));
    }
    let drain = Drain::start(&log, cursor);
    let resumed = if skip.is_none() && faults.is_empty() {
        let until = Instant::now() + RUN_FOR;
        while drain.read.load(Ordering::Relaxed) <= full && Instant::now() < until && running.finished().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        running.emitted().0 - full
    } else {
        0
    };
    let (took, after) = running.stop(ctx);
    drop(drain);
    if let Some(Err(e)) = after.filter(|r| r.as_ref().is_err_and(|e| e.status != evhost_abi::EVH_STOPPED)) {
        faults.push(format!("on_run answered {e} when asked to stop"));
    }
    if let Some(refused) = running.refused() {
        faults.push(refused);
    }
    ctx.destroy(running.instance);
    match (skip, faults.is_empty()) {
        (_, false) => Verdict::fail(faults.join("; ")),
        (Some(reason), true) => Verdict::skip(reason),
        (None, true) => Verdict::pass(format!(
            "waited at {full} events using {:.0}% of a CPU, emitted {resumed} more once there was room, stopped in {took:.1?}",
            busy * 100.0
        )),
    }
}

/// The process's CPU time, to tell waiting from spinning.
struct Cpu {
    at: Instant,
    ticks: u64,
}

impl Cpu {
    fn now() -> Cpu {
        Cpu { at: Instant::now(), ticks: process_ticks() }
    }

    /// The share of one CPU used since `now`.
    fn share(&self) -> f64 {
        // Linux reports CPU time in USER_HZ, 100 per second on every architecture.
        let used = (process_ticks() - self.ticks) as f64 / 100.0;
        used / self.at.elapsed().as_secs_f64()
    }
}

/// User and system CPU time of this process, from /proc/self/stat (0 where it cannot be read).
fn process_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0 };
    // The command name, in parentheses, may hold spaces: the fields start after it.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
}
