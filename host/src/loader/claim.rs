//! Claim and publish (ABI 1.2): a producer writes its events straight into a chunk the log
//! will keep (`Chunk::claimed`), and `publish` checks them in place (`ingest_claim`) and
//! appends the chunk itself, so that each byte is written once and never copied. The disk
//! log's writer encodes chunks from their records, so there the claimed events are copied
//! into a built chunk after the same checks, as `emit` would.
//!
//! A claim is not a place in the log: sequence numbers are given at publish, under the log's
//! lock, so an open claim holds up no other producer. Open claims live in their instance's
//! record, at most `EVH_CLAIMS_MAX` of them, named to the plugin by a token that is never
//! reused: a claim published twice, or another instance's, is refused, never freed twice.
//!
//! In an isolated producer's worker there is no log: a claim is a chunk of the worker's,
//! and `publish` checks it the same way, then forwards a copy to the host, as `emit` does.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::RwLockReadGuard;

use evhost_abi::{self as evh, evh_claim, evh_host, evh_status};

use super::host_api::{instance, EmitTarget, Forward, InstanceHost};
use super::{ingest, ingest_claim};
use crate::diagnostic::counted;
use crate::log::{AppendError, Chunk, Log};

/// One instance's open claims, by token.
#[derive(Default)]
pub struct Claims {
    /// The last token handed out; tokens start at 1, so none is NULL.
    last: usize,
    open: Vec<(usize, Chunk)>,
}

impl InstanceHost {
    fn lock_claims(&self) -> std::sync::MutexGuard<'_, Claims> {
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the open claim `token` out, if this instance has it.
    fn take_claim(&self, token: usize) -> Option<Chunk> {
        let mut claims = self.lock_claims();
        let at = claims.open.iter().position(|(t, _)| *t == token)?;
        Some(claims.open.swap_remove(at).1)
    }

    /// Puts a claim that was not published back: it stays open.
    fn keep_claim(&self, token: usize, chunk: Chunk) {
        self.lock_claims().open.push((token, chunk));
    }
}

/// Logs and records why a claim call was refused, as `emit`'s refusals are, and answers
/// `status`. The message begins with the call's name.
#[cold]
fn refuse(host: &InstanceHost, status: evh_status, message: String) -> evh_status {
    tracing::warn!(instance = %host.name, "{message}");
    host.set_error(message);
    status
}

/// Where a published claim goes: the log, or (in an isolated producer's worker) the host.
enum Sink<'a> {
    Log(&'a Log),
    Forward(&'a dyn Forward),
}

/// The instance's sink and event size limit, or the status to answer (naming the call).
fn log_of<'a>(
    host: &'a InstanceHost,
    target: &'a RwLockReadGuard<'_, Option<EmitTarget>>,
    call: &str,
) -> Result<(Sink<'a>, usize), evh_status> {
    match &**target {
        Some(EmitTarget::Log { log, max_event_bytes }) => Ok((Sink::Log(log), *max_event_bytes)),
        Some(EmitTarget::Forward { forward, max_event_bytes }) => Ok((Sink::Forward(&**forward), *max_event_bytes)),
        #[cfg(feature = "bench")]
        Some(EmitTarget::Baseline(_)) => Err(refuse(
            host,
            evh::EVH_ERR_UNSUPPORTED,
            format!("{call}: the benchmark's in-process baselines take emit only"),
        )),
        None if host.is_dead() => Err(evh::EVH_STOPPED),
        None => {
            let message = format!("{call}: this instance is a consumer; only producers can claim and publish");
            Err(refuse(host, evh::EVH_ERR_UNSUPPORTED, message))
        }
    }
}

pub(super) unsafe extern "C" fn claim(
    host: *mut evh_host,
    n: usize,
    bytes: usize,
    _flags: u32,
    out: *mut evh_claim,
) -> evh_status {
    let call = AssertUnwindSafe(|| {
        // SAFETY: plugins pass back the handle they were given.
        let Some(host) = (unsafe { instance(host) }) else { return evh::EVH_ERR_INVALID_ARGUMENT };
        if host.is_dead() {
            return evh::EVH_STOPPED;
        }
        if out.is_null() {
            return refuse(
                host,
                evh::EVH_ERR_INVALID_ARGUMENT,
                "claim: out is NULL; pass a pointer to an evh_claim".into(),
            );
        }
        let target = host.target.read().unwrap_or_else(|e| e.into_inner());
        let log = match log_of(host, &target, "claim") {
            Ok((log, _)) => log,
            Err(status) => return status,
        };
        if n == 0 {
            return refuse(
                host,
                evh::EVH_ERR_INVALID_ARGUMENT,
                "claim: n is 0; claim room for at least one event".into(),
            );
        }
        let fits = match log {
            Sink::Log(log) => log.fits(n, bytes),
            Sink::Forward(forward) => crate::log::fits(n, bytes, forward.limits()),
        };
        if let Err(AppendError::TooLarge { capacity, max_bytes, .. }) = fits {
            return refuse(host, evh::EVH_ERR_TOO_LARGE, format!("claim: room for {} and {} can never fit the log ({}, {}); claim less and publish more often, or raise [log] capacity / max_bytes", counted(n, "event"), counted(bytes, "byte"), counted(capacity, "event"), counted(max_bytes, "byte")));
        }
        // Outside the claims' lock: taking the buffers may zero or allocate. The limit is
        // checked under it, so that threads claiming at once cannot pass it together.
        let mut chunk = Chunk::claimed(n, bytes);
        let (events, events_len, bytes, bytes_len) = chunk.room();
        let mut claims = host.lock_claims();
        if claims.open.len() >= evh::EVH_CLAIMS_MAX {
            drop(claims);
            let message = format!(
                "claim: this instance holds {} open claims already; publish or abandon one first",
                evh::EVH_CLAIMS_MAX
            );
            return refuse(host, evh::EVH_BUSY, message);
        }
        claims.last += 1;
        let token = claims.last;
        claims.open.push((token, chunk));
        drop(claims);
        let claimed = evh_claim {
            struct_size: evh::struct_size::<evh_claim>(),
            reserved: 0,
            events,
            events_len,
            bytes,
            bytes_len,
            token: std::ptr::without_provenance_mut::<c_void>(token),
        };
        // SAFETY: non-NULL, and the ABI makes `out` writable for the call.
        unsafe { out.write(claimed) };
        evh::EVH_OK
    });
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}

/// The token of the claim at `claim`, or the status to answer.
///
/// # Safety
/// `claim` is NULL or points to an `evh_claim` the caller owns, valid for the call.
unsafe fn token_of(host: &InstanceHost, claim: *mut evh_claim, call: &str) -> Result<usize, evh_status> {
    if claim.is_null() {
        let message = format!("{call}: claim is NULL; pass the evh_claim that claim filled in");
        return Err(refuse(host, evh::EVH_ERR_INVALID_ARGUMENT, message));
    }
    // SAFETY: non-NULL, the caller's struct (the contract above).
    Ok(unsafe { (*claim).token }.addr())
}

fn not_open(host: &InstanceHost, call: &str) -> evh_status {
    refuse(host, evh::EVH_ERR_INVALID_ARGUMENT, format!("{call}: this claim is not open: it was published or abandoned already, or another instance made it; claim again"))
}

pub(super) unsafe extern "C" fn publish(
    host: *mut evh_host,
    claim: *mut evh_claim,
    n: usize,
    flags: u32,
    ticket_out: *mut u64,
) -> evh_status {
    let call = AssertUnwindSafe(|| {
        // SAFETY: plugins pass back the handle they were given.
        let Some(host) = (unsafe { instance(host) }) else { return evh::EVH_ERR_INVALID_ARGUMENT };
        // SAFETY: the plugin passes its own evh_claim (the ABI's contract).
        let token = match unsafe { token_of(host, claim, "publish") } {
            Ok(token) => token,
            Err(status) => return status,
        };
        if host.is_dead() {
            return evh::EVH_STOPPED;
        }
        let target = host.target.read().unwrap_or_else(|e| e.into_inner());
        let (log, max_event_bytes) = match log_of(host, &target, "publish") {
            Ok(found) => found,
            Err(status) => return status,
        };
        let Some(chunk) = host.take_claim(token) else { return not_open(host, "publish") };
        match append(host, log, chunk, token, n, flags, max_event_bytes) {
            Ok(ticket) => {
                if !ticket_out.is_null() {
                    // SAFETY: non-NULL, and the ABI makes it writable for the call.
                    unsafe { ticket_out.write(ticket) };
                }
                // SAFETY: as in `token_of`; the claim is consumed.
                unsafe { (*claim).token = std::ptr::null_mut() };
                evh::EVH_OK
            }
            Err(status) => status,
        }
    });
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}

/// Checks the claim's first `n` events and appends them; on any failure the claim is kept
/// open. The batch's ticket, or the status to answer.
fn append(
    host: &InstanceHost,
    sink: Sink<'_>,
    mut chunk: Chunk,
    token: usize,
    n: usize,
    flags: u32,
    max_event_bytes: usize,
) -> Result<u64, evh_status> {
    let claimed = chunk.written().len();
    if n == 0 || n > claimed {
        host.keep_claim(token, chunk);
        let message = match claimed {
            1 => format!("publish: n is {n}; publish 1, the one event of this claim"),
            _ => format!("publish: n is {n}; publish 1 to {claimed} events of this claim"),
        };
        return Err(refuse(host, evh::EVH_ERR_INVALID_ARGUMENT, message));
    }
    if let Err(refused) = ingest_claim::check_claimed(&chunk, n, max_event_bytes) {
        host.keep_claim(token, chunk);
        return Err(host.refused("publish", refused));
    }
    chunk.publish(n);
    let block = flags & evh::EVH_EMIT_NONBLOCK == 0;
    let bytes = chunk.bytes() as u64;
    let log = match sink {
        Sink::Log(log) => log,
        Sink::Forward(forward) => return forward_claim(host, forward, chunk, token, n, flags, max_event_bytes),
    };
    let appended = if log.is_disk() {
        // SAFETY: the chunk holds `n` events, checked above, whose views all lie in its own
        // arena, alive for the call.
        let built = match unsafe { ingest::read_batch(chunk.written().as_ptr(), n, max_event_bytes) } {
            Ok(built) => built,
            Err(refused) => {
                host.keep_claim(token, chunk);
                return Err(host.refused("publish", refused));
            }
        };
        let appended = log.append(built, block);
        if appended.is_err() {
            host.keep_claim(token, chunk);
        }
        appended
    } else {
        log.append_chunk(chunk, block).map_err(|(e, chunk)| {
            host.keep_claim(token, *chunk);
            e
        })
    };
    match appended {
        Ok(seqs) => {
            host.counted("publish", Ok(()), n as u64, bytes);
            host.appended(log, seqs, flags)
        }
        Err(e) => Err(host.counted("publish", Err(e), 0, 0)),
    }
}

/// `publish` in an isolated producer's worker: the checked events copied into a batch, as
/// `emit` makes one, and sent to the host, which appends them; the claim stays open when
/// that fails.
fn forward_claim(
    host: &InstanceHost,
    forward: &dyn Forward,
    chunk: Chunk,
    token: usize,
    n: usize,
    flags: u32,
    max_event_bytes: usize,
) -> Result<u64, evh_status> {
    // SAFETY: the chunk holds `n` events, checked by the caller, whose views all lie in its
    // own arena, alive for the call.
    let built = match unsafe { ingest::read_batch(chunk.written().as_ptr(), n, max_event_bytes) } {
        Ok(built) => built,
        Err(refused) => {
            host.keep_claim(token, chunk);
            return Err(host.refused("publish", refused));
        }
    };
    let bytes = built.bytes() as u64;
    match forward.emit(built, flags) {
        Ok(ticket) => {
            host.counted("publish", Ok(()), n as u64, bytes);
            host.issue(ticket);
            Ok(ticket)
        }
        Err((status, message)) => {
            host.keep_claim(token, chunk);
            if !message.is_empty() {
                host.set_error(message);
            }
            Err(status)
        }
    }
}

pub(super) unsafe extern "C" fn abandon(host: *mut evh_host, claim: *mut evh_claim) -> evh_status {
    let call = AssertUnwindSafe(|| {
        // SAFETY: plugins pass back the handle they were given.
        let Some(host) = (unsafe { instance(host) }) else { return evh::EVH_ERR_INVALID_ARGUMENT };
        // SAFETY: the plugin passes its own evh_claim (the ABI's contract).
        let token = match unsafe { token_of(host, claim, "abandon") } {
            Ok(token) => token,
            Err(status) => return status,
        };
        // Even for a dead instance: the claim's memory goes back to the pool.
        let Some(chunk) = host.take_claim(token) else { return not_open(host, "abandon") };
        drop(chunk);
        // SAFETY: as in `token_of`.
        unsafe { (*claim).token = std::ptr::null_mut() };
        evh::EVH_OK
    });
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}
