use super::*;
use crate::config::Start;
use std::thread;
use std::time::Duration;

fn batch_of(ids: std::ops::Range<u64>) -> ChunkBuilder {
    let mut builder = ChunkBuilder::with_capacity(ids.clone().count(), 0, 0);
    for i in ids {
        let id = i.to_string();
        builder.push_event(&EventIn {
            id: &id,
            source: "/test",
            specversion: "",
            ty: "t",
            subject: "",
            datacontenttype: "",
            dataschema: "",
            time: "",
            data: b"xy",
        });
    }
    builder
}

fn with_capacity(capacity: usize) -> Arc<Log> {
    Arc::new(Log::new(&LogConfig::memory(capacity, 1 << 20)))
}

/// Reads, waiting as a delivery thread does.
fn read(log: &Log, id: ConsumerId, max: usize, batch: &mut Batch) -> Read {
    loop {
        let seen = log.seen();
        match log.try_read(id, max, batch) {
            Read::Empty => log.wait(seen, None),
            other => return other,
        }
    }
}

/// Reads everything until End and returns the ids in order.
fn drain(log: &Log, id: ConsumerId, max: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut batch = Batch::default();
    while let Read::Events { .. } = read(log, id, max, &mut batch) {
        assert!(batch.len() <= max);
        for (i, event) in batch.iter_from(0).enumerate() {
            assert_eq!(event.seq(), batch.first_seq() + i as u64);
            assert_eq!(event.data(), b"xy");
            seen.push(event.id().parse().unwrap());
        }
        log.commit(id, &mut batch);
    }
    seen
}

#[test]
fn every_consumer_sees_every_event_in_order() {
    let log = with_capacity(64);
    let consumers: Vec<_> = (0..3).map(|_| log.add_consumer(Policy::Block)).collect();
    let readers: Vec<_> = consumers
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let log = log.clone();
            thread::spawn(move || drain(&log, id, 7 + i * 50))
        })
        .collect();
    for start in (0..10_000).step_by(10) {
        log.append(batch_of(start..start + 10), true).unwrap();
    }
    log.close();
    for reader in readers {
        assert_eq!(reader.join().unwrap(), (0..10_000).collect::<Vec<_>>());
    }
}

#[test]
fn a_full_log_blocks_or_answers_full() {
    let log = with_capacity(4);
    let slow = log.add_consumer(Policy::Block);
    log.append(batch_of(0..4), false).unwrap();
    assert_eq!(log.append(batch_of(4..5), false), Err(AppendError::Full));
    let producer = {
        let log = log.clone();
        thread::spawn(move || log.append(batch_of(4..6), true))
    };
    thread::sleep(Duration::from_millis(50));
    assert!(!producer.is_finished(), "append must wait while the log is full");
    // Room is made a whole emitted batch at a time, so the consumer passes all four.
    let mut batch = Batch::default();
    for _ in 0..2 {
        assert!(matches!(read(&log, slow, 2, &mut batch), Read::Events { dropped: 0 }));
        log.commit(slow, &mut batch);
    }
    assert_eq!(producer.join().unwrap(), Ok(5..7));
}

/// A producer's append under way on a thread of its own.
type Waiting = thread::JoinHandle<Result<std::ops::Range<u64>, AppendError>>;

/// A log of 16 events held by one `block` consumer, full in chunks of 2, and a producer
/// waiting to append a batch of `events` more (ids from 16): it waits before anything is
/// freed, or a free chunk would let it through at once.
fn full_log_and_a_waiting_producer(events: u64) -> (Arc<Log>, ConsumerId, Waiting) {
    let log = with_capacity(16);
    let slow = log.add_consumer(Policy::Block);
    for start in (0..16).step_by(2) {
        log.append(batch_of(start..start + 2), false).unwrap();
    }
    let producer = {
        let log = log.clone();
        thread::spawn(move || log.append(batch_of(16..16 + events), true))
    };
    thread::sleep(Duration::from_millis(50));
    assert!(!producer.is_finished(), "append must wait while the log is full");
    (log, slow, producer)
}

#[test]
fn a_producer_waiting_for_room_waits_for_a_quarter_of_the_log_not_for_each_batch() {
    // 16 events in chunks of 2: room for the next chunk frees with the first commit, but
    // the producer goes on only once a quarter of the log (4 events) is free besides.
    let (log, slow, producer) = full_log_and_a_waiting_producer(2);
    let mut batch = Batch::default();
    let mut passed = 0;
    for _ in 0..2 {
        assert!(matches!(read(&log, slow, 2, &mut batch), Read::Events { dropped: 0 }));
        log.commit(slow, &mut batch);
        passed += 2;
        thread::sleep(Duration::from_millis(50));
        assert!(!producer.is_finished(), "woken after {passed} events freed; the log wants 2 + 4");
    }
    assert!(matches!(read(&log, slow, 2, &mut batch), Read::Events { dropped: 0 }));
    log.commit(slow, &mut batch);
    assert_eq!(producer.join().unwrap(), Ok(17..19));
    // The quarter it waited for is room now: the next batches need no wait.
    assert_eq!(log.append(batch_of(18..20), false), Ok(19..21));
    assert_eq!(log.append(batch_of(20..22), false), Ok(21..23));
    assert_eq!(log.append(batch_of(22..24), false), Err(AppendError::Full));
}

#[test]
fn a_waiting_producer_goes_on_when_a_reload_replaces_the_consumer_holding_it_with_a_drop_oldest_one() {
    let log = with_capacity(4);
    let slow = log.add_consumer(Policy::Block);
    log.append(batch_of(0..4), false).unwrap();
    let producer = {
        let log = log.clone();
        thread::spawn(move || log.append(batch_of(4..6), true))
    };
    thread::sleep(Duration::from_millis(50));
    assert!(!producer.is_finished(), "append must wait while the log is full");
    // Nobody commits: the successor holds nothing back, which alone must let it through.
    log.take_over(slow, Policy::DropOldest);
    assert_eq!(producer.join().unwrap(), Ok(5..7));
}

#[test]
fn a_batch_of_three_quarters_of_the_log_waits_for_its_room_and_half_of_what_it_leaves_not_for_an_empty_log() {
    // 16 events in chunks of 2, a batch of 12: it fits with 2 spare (half of the 4 it
    // leaves) once 14 events are freed; it need not wait for the last chunk too.
    let (log, slow, producer) = full_log_and_a_waiting_producer(12);
    let mut batch = Batch::default();
    for _ in 0..7 {
        assert!(!producer.is_finished(), "the batch does not fit yet");
        assert!(matches!(read(&log, slow, 2, &mut batch), Read::Events { dropped: 0 }));
        log.commit(slow, &mut batch);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !producer.is_finished() && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert!(producer.is_finished(), "14 of 16 events are free: the batch of 12 fits with 2 to spare");
    assert_eq!(producer.join().unwrap(), Ok(17..29));
}

#[test]
fn drop_oldest_skips_for_that_consumer_alone() {
    let log = with_capacity(10);
    let lagging = log.add_consumer(Policy::DropOldest);
    let keeping = log.add_consumer(Policy::Block);
    for start in (0..30).step_by(5) {
        log.append(batch_of(start..start + 5), false).unwrap();
        let mut batch = Batch::default();
        read(&log, keeping, 100, &mut batch);
        log.commit(keeping, &mut batch);
    }
    let mut batch = Batch::default();
    let Read::Events { dropped } = read(&log, lagging, 100, &mut batch) else { panic!("events expected") };
    assert_eq!(dropped, 20);
    assert_eq!(batch.first_seq(), 21);
    assert_eq!(batch.len(), 10);
}

#[test]
fn oversized_batches_are_refused_and_stop_ends_waits() {
    let log = with_capacity(4);
    assert!(matches!(log.append(batch_of(0..5), true), Err(AppendError::TooLarge { events: 5, .. })));
    let _consumer = log.add_consumer(Policy::Block);
    log.append(batch_of(0..4), true).unwrap();
    let producer = {
        let log = log.clone();
        thread::spawn(move || log.append(batch_of(4..5), true))
    };
    thread::sleep(Duration::from_millis(20));
    log.stop();
    assert_eq!(producer.join().unwrap(), Err(AppendError::Stopped));
}

#[test]
fn a_chunk_keeps_every_attribute_through_templates_extensions_and_arena_growth() {
    // No reservation, so the arena moves while the batch is built and `finish` must move
    // the templates' and extensions' views along.
    let mut builder = ChunkBuilder::with_capacity(0, 0, 0);
    let mut template = empty_event();
    template.source = builder.put(b"/a");
    template.r#type = builder.put(b"t.a");
    builder.template(&template);
    builder.push(b"1", b"one");
    let (key, value) = (builder.put(b"traceparent"), builder.put(b"00-1"));
    builder.push_extension(key, value);
    builder.push(b"2", &[7; 4096]);
    builder.push_event(&EventIn {
        id: "3",
        source: "/b",
        specversion: "1.0",
        ty: "t.b",
        subject: "s",
        datacontenttype: "text/plain",
        dataschema: "",
        time: "2026-11-27T00:00:00Z",
        data: b"three",
    });
    let (key, value) = (builder.put(b"x"), builder.put(b"y"));
    builder.push_extension(key, value);

    let log = with_capacity(16);
    let (first, second) = (log.add_consumer(Policy::Block), log.add_consumer(Policy::Block));
    assert_eq!(log.append(builder, false), Ok(1..4));
    let (mut a, mut b) = (Batch::default(), Batch::default());
    read(&log, first, 10, &mut a);
    read(&log, second, 10, &mut b);
    assert_eq!(a.events(), b.events(), "both consumers get the same stored events");

    let events: Vec<_> = a.iter_from(0).collect();
    let summary: Vec<_> =
        events.iter().map(|e| (e.seq(), e.id(), e.source(), e.ty(), e.subject(), e.time(), e.data().len())).collect();
    assert_eq!(
        summary,
        [
            (1, "1", "/a", "t.a", "", "", 3),
            (2, "2", "/a", "t.a", "", "", 4096),
            (3, "3", "/b", "t.b", "s", "2026-11-27T00:00:00Z", 5),
        ]
    );
    assert_eq!(events[0].data(), b"one");
    assert_eq!(events[2].data(), b"three");
    assert_eq!(events[2].datacontenttype(), "text/plain");
    let extensions: Vec<Vec<_>> = events.iter().map(|e| e.extensions().collect()).collect();
    assert_eq!(extensions, [vec![("traceparent", "00-1")], vec![], vec![("x", "y")]]);
}

fn disk_log(dir: &std::path::Path, capacity: usize, max_bytes: u64) -> Arc<Log> {
    let disk = crate::config::DiskConfig {
        path: dir.to_path_buf(),
        fsync: crate::config::Fsync::Commit,
        segment_bytes: 4096,
        max_bytes,
    };
    let config = LogConfig { capacity, max_bytes: 1 << 20, disk: Some(disk) };
    Arc::new(Log::open(&config).unwrap())
}

#[test]
fn a_disk_log_serves_a_consumer_far_behind_from_disk_with_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let log = disk_log(dir.path(), 16, 1 << 30);
    let late = log.join("late", Policy::Block, Start::End);
    log.start().unwrap();
    // Far more than the 16 events memory holds; the consumer reads none until the end.
    for start in (0..2000).step_by(8) {
        log.append(batch_of(start..start + 8), true).unwrap();
    }
    log.close();
    let segments = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg"))
            .count()
    };
    assert!(segments() > 3, "the events are in several segments");
    assert_eq!(drain(&log, late, 100), (0..2000).collect::<Vec<_>>());
    log.shutdown();
    assert_eq!(log.failure(), None);
    assert_eq!(segments(), 1, "segments every consumer passed are deleted");
}

#[test]
fn a_full_disk_makes_producers_wait_for_block_consumers_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let log = disk_log(dir.path(), 64, 16 * 4096);
    let consumer = log.join("slow", Policy::Block, Start::End);
    log.start().unwrap();
    let mut appended = 0u64;
    let started = std::time::Instant::now();
    // Memory holds 64 events: once the disk is full, appends answer Full for good (before,
    // only until the writer caught up).
    let mut full_since = None;
    while full_since.is_none_or(|t: std::time::Instant| t.elapsed() < Duration::from_millis(300)) {
        match log.append(batch_of(appended..appended + 8), false) {
            Ok(_) => (appended, full_since) = (appended + 8, None),
            Err(AppendError::Full) => {
                full_since.get_or_insert_with(std::time::Instant::now);
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the disk never filled up");
    }
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert!(on_disk > 12 * 4096 && on_disk <= 16 * 4096 + 4096, "{appended} events, {on_disk} bytes on disk");
    let reader = {
        let log = log.clone();
        thread::spawn(move || drain(&log, consumer, 50))
    };
    // The consumer moves on, segments are deleted, and appends go through again.
    for start in (appended..appended + 400).step_by(8) {
        log.append(batch_of(start..start + 8), true).unwrap();
    }
    log.close();
    assert_eq!(reader.join().unwrap(), (0..appended + 400).collect::<Vec<_>>());
    log.shutdown();
    assert_eq!(log.failure(), None);
}

#[test]
fn the_age_of_what_a_consumer_has_not_had_comes_from_memory_or_disk() {
    let dir = tempfile::tempdir().unwrap();
    let log = disk_log(dir.path(), 16, 1 << 30);
    let late = log.join("late", Policy::Block, Start::End);
    log.start().unwrap();
    assert_eq!(log.oldest_pending_age(late), None, "nothing to have yet");
    log.append(batch_of(0..8), true).unwrap();
    thread::sleep(Duration::from_millis(30));
    // Far more than memory holds, so the first events are read back from disk.
    for start in (8..400).step_by(8) {
        log.append(batch_of(start..start + 8), true).unwrap();
    }
    let age = log.oldest_pending_age(late).expect("the consumer is behind");
    assert!(age >= Duration::from_millis(30), "the first batch's age, read from disk: {age:?}");
    log.close();
    assert_eq!(drain(&log, late, 1000).len(), 400);
    assert_eq!(log.oldest_pending_age(late), None);
    log.shutdown();
}

#[test]
fn a_batch_that_finds_the_newest_segment_in_its_way_gets_a_new_one() {
    // Found by the NATS tests: a disk log of 16 KiB, segments of 4 KiB, batches of about
    // 8 KiB and one consumer that keeps up. The newest segment held 8 KiB every consumer had
    // passed, the next batch did not fit beside it, and the newest segment is never deleted:
    // producers waited for ever.
    let dir = tempfile::tempdir().unwrap();
    let log = disk_log(dir.path(), 1024, 16 * 1024);
    let consumer = log.join("sink", Policy::Block, Start::End);
    log.start().unwrap();
    let reader = {
        let log = log.clone();
        thread::spawn(move || {
            let (mut batch, mut count) = (Batch::default(), 0);
            while let Read::Events { .. } = read(&log, consumer, 1000, &mut batch) {
                count += batch.len();
                log.commit(consumer, &mut batch);
            }
            count
        })
    };
    fn big(start: u64) -> ChunkBuilder {
        let mut builder = ChunkBuilder::with_capacity(14, 0, 0);
        for i in start..start + 14 {
            let id = i.to_string();
            builder.push_event(&EventIn { id: &id, source: "/t", ty: "t", data: &[7u8; 700], ..EventIn::default() });
        }
        builder
    }
    for start in (0..20 * 14).step_by(14) {
        log.append(big(start), true).unwrap();
    }
    log.close();
    let started = std::time::Instant::now();
    while !reader.is_finished() {
        assert!(started.elapsed() < Duration::from_secs(10), "the writer is stuck behind the newest segment");
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(reader.join().unwrap(), 280);
    log.shutdown();
}

#[test]
fn a_retired_consumer_ends_where_it_was_told_and_a_successor_takes_over_its_place() {
    let log = with_capacity(64);
    let (removed, replaced) = (log.add_consumer(Policy::Block), log.add_consumer(Policy::Block));
    log.append(batch_of(0..10), true).unwrap();
    // The replaced one holds a batch of 4 when the reload comes: it finishes that batch only.
    let mut held = Batch::default();
    assert_eq!(log.try_read(replaced, 4, &mut held), Read::Events { dropped: 0 });
    log.retire(removed, true);
    log.retire(replaced, false);
    log.append(batch_of(10..12), true).unwrap();
    log.commit(replaced, &mut held);
    assert_eq!(read(&log, replaced, 64, &mut held), Read::End, "it ends after the batch it held");
    let successor = log.take_over(replaced, Policy::Block);
    // The removed one delivers up to the newest event at its removal, not the later ones.
    assert_eq!(drain_until_end(&log, removed), (0..10).collect::<Vec<_>>());
    log.leave(removed);
    log.close();
    assert_eq!(drain(&log, successor, 64), (4..12).collect::<Vec<_>>(), "nothing lost, nothing twice");
}

#[test]
fn a_consumer_that_left_holds_nothing_back() {
    let log = with_capacity(4);
    let gone = log.add_consumer(Policy::Block);
    log.append(batch_of(0..4), true).unwrap();
    assert_eq!(log.append(batch_of(4..5), false), Err(AppendError::Full), "the consumer holds the log full");
    log.leave(gone);
    assert!(log.append(batch_of(4..5), false).is_ok(), "once it left, its events may go");
    let mut batch = Batch::default();
    assert_eq!(log.try_read(gone, 4, &mut batch), Read::End);
}

/// Reads and commits until `End` (a retired cursor's), returning the ids.
fn drain_until_end(log: &Log, id: ConsumerId) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut batch = Batch::default();
    while let Read::Events { .. } = log.try_read(id, 64, &mut batch) {
        ids.extend(batch.iter_from(0).map(|e| e.id().parse::<u64>().unwrap()));
        log.commit(id, &mut batch);
    }
    ids
}
