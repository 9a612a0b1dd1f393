//! The consumer checks: deliveries of every size and shape, honouring RETRY (the rest is
//! delivered again) and FAIL (the rest is given up), two instances side by side, and on_stop
//! then on_destroy. Every answer is checked against the ABI: a status of OK, RETRY or FAIL,
//! and `handled` within `0..=n` of what was delivered.

use std::time::Duration;

use evhost_abi as evh;

use super::child::{Ctx, Verdict};
use super::events::{feed, Fed, Shape};
use crate::loader::Instance;

/// How many times a batch is delivered again after RETRY before the kit moves on.
const RETRIES: usize = 3;

pub fn run(id: &str, ctx: &Ctx) -> Verdict {
    let (shape, n) = match id {
        "batch-1" => (Shape::Plain, 1),
        "batch-256" => (Shape::Plain, 256),
        "batch-10000" => (Shape::Plain, 10_000),
        "attributes-absent" => (Shape::Absent, 16),
        "attributes-present" => (Shape::Present, 16),
        "utf8" => (Shape::Utf8, 16),
        "empty-data" => (Shape::EmptyData, 16),
        "data-1mib" => (Shape::OneMib, 1),
        "two-instances" => return two_instances(ctx),
        "stop-destroy" => (Shape::Plain, 8),
        other => unreachable!("not a consumer check: {other}"),
    };
    let instance = match ctx.create("test-plugin", &ctx.config, None) {
        Ok(instance) => instance,
        Err(e) => return Verdict::fail(format!("on_create refused the config that worked before: {e}")),
    };
    let outcome = deliver(ctx, &instance, &feed(shape, n));
    ctx.stop(&instance);
    ctx.destroy(instance);
    match outcome {
        Ok(note) => Verdict::pass(note),
        Err(fault) => Verdict::fail(fault),
    }
}

/// Delivers a whole batch as the host would: again from the first unhandled event after
/// RETRY (a few times), and no further after FAIL. A note on what the plugin answered, or
/// the fault.
fn deliver(ctx: &Ctx, instance: &Instance, fed: &Fed) -> Result<Option<String>, String> {
    let n = fed.batch.len();
    let mut from = 0;
    let mut retries = 0;
    loop {
        let rest = n - from;
        let answer = ctx.reporter.hook("on_events", ctx.hook_timeout, || instance.deliver(&fed.batch, from));
        let message = instance.host.take_error();
        let explained =
            || message.as_deref().map_or(" without a message (set_error)".to_string(), |m| format!(": {m}"));
        let status = evh::status_name(answer.status);
        match answer.status {
            evh::EVH_OK => {
                return Ok((retries > 0).then(|| format!("handled after {retries} RETRY answer(s)")));
            }
            evh::EVH_RETRY | evh::EVH_FAIL if answer.handled > rest => {
                return Err(format!(
                    "on_events answered {status} with handled = {} for a batch of {rest} event(s)",
                    answer.handled
                ));
            }
            evh::EVH_RETRY if retries < RETRIES => {
                retries += 1;
                from += answer.handled;
                // The host backs off before it delivers again; a short wait does here.
                std::thread::sleep(Duration::from_millis(20));
            }
            evh::EVH_RETRY => {
                return Ok(Some(format!(
                    "still answered EVH_RETRY after {RETRIES} deliveries of the rest{}",
                    explained()
                )))
            }
            evh::EVH_FAIL => {
                return Ok(Some(format!("answered EVH_FAIL with {} of {rest} handled{}", answer.handled, explained())))
            }
            other => {
                return Err(format!(
                    "on_events answered {status} ({other}){}; it may answer only EVH_OK, EVH_RETRY or EVH_FAIL",
                    explained()
                ))
            }
        }
    }
}

/// Two instances, deliveries to each in turn, then both stopped and destroyed.
fn two_instances(ctx: &Ctx) -> Verdict {
    let create = |name| ctx.create(name, &ctx.config, None);
    let (first, second) = match (create("test-plugin-1"), create("test-plugin-2")) {
        (Ok(first), Ok(second)) => (first, second),
        (Err(e), _) | (_, Err(e)) => {
            return Verdict::fail(format!("on_create of a second instance failed: {e}"));
        }
    };
    let fed = feed(Shape::Plain, 64);
    let mut faults = Vec::new();
    for round in 0..3 {
        for (name, instance) in [("first", &first), ("second", &second)] {
            if let Err(fault) = deliver(ctx, instance, &fed) {
                faults.push(format!("{name} instance, round {}: {fault}", round + 1));
            }
        }
    }
    ctx.stop(&first);
    ctx.destroy(first);
    // The second works on after the first is gone.
    if let Err(fault) = deliver(ctx, &second, &fed) {
        faults.push(format!("second instance, after the first was destroyed: {fault}"));
    }
    ctx.stop(&second);
    ctx.destroy(second);
    match faults.is_empty() {
        true => Verdict::pass(None),
        false => Verdict::fail(faults.join("; ")),
    }
}
