/*
 * ticker.c: a paced producer, the benchmark's clock (`make bench`).
 *
 * It emits `count` events (0: until stopped), `batch` per blocking emit, at `rate` events
 * per second (0: as fast as emit takes them). Event k (from 0) has id = k in decimal, source
 * /evhost/bench/ticker, type dev.evhost.bench.tick, and 8 bytes of data: CLOCK_MONOTONIC in
 * nanoseconds at its emit, little endian. The `latency` consumer subtracts that from its own
 * clock, which is the same clock because both run in the host's process.
 *
 * Pacing sleeps with clock_nanosleep to absolute deadlines (start + k / rate), so sleeping
 * late never adds up and nothing spins; while pacing, the thread's timer slack is 1 ns, so
 * that it paces rather than bursts. With count = 0 and rate = 0 it emits nothing and
 * sleeps on a condition variable until on_stop: the producer of an idle host.
 */
#define _POSIX_C_SOURCE 200809L
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "json.h"
#include "plugins.h"
#include "util.h"

#define NS_PER_SEC UINT64_C(1000000000)
/* A paced sleep wakes at least this often to see a stop, however low the rate. */
#define MAX_SLEEP_NS (NS_PER_SEC / 10)
#define STAMP_BYTES 8

typedef struct ticker {
    evh_host *host;
    const evh_host_api *api;
    uint64_t count;
    uint64_t rate;
    size_t batch;
    evh_event *events;
    /* One EVH_EX_ID_MAX-byte id slot and one STAMP_BYTES-byte stamp per event. */
    char *ids;
    uint8_t *stamps;
    /* Set by on_stop, under `lock` so that an idle on_run cannot miss the signal. */
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t stopped;
} ticker;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void ticker_free(ticker *t)
{
    free(t->events);
    free(t->ids);
    free(t->stamps);
    free(t);
}

static bool ticker_alloc(ticker *t)
{
    static const evh_str source = EVH_EX_STR("/evhost/bench/ticker");
    static const evh_str type = EVH_EX_STR("dev.evhost.bench.tick");
    size_t i;

    t->events = calloc(t->batch, sizeof(evh_event));
    t->ids = malloc(t->batch * EVH_EX_ID_MAX);
    t->stamps = malloc(t->batch * STAMP_BYTES);
    if (t->events == NULL || t->ids == NULL || t->stamps == NULL) {
        return false;
    }
    for (i = 0; i < t->batch; i++) {
        evh_event *e = &t->events[i];
        e->struct_size = sizeof(evh_event);
        e->source = source;
        e->type = type;
        e->data.ptr = t->stamps + i * STAMP_BYTES;
        e->data.len = STAMP_BYTES;
    }
    return true;
}

static evh_status ticker_create(const evh_create_args *args, void **instance_out)
{
    uint64_t count = 0, rate = 0, batch = 1;
    const evh_ex_json_field fields[] = {
        { "count", EVH_EX_JSON_UINT, false, "count = 300000", &count, NULL, NULL },
        { "rate", EVH_EX_JSON_UINT, false, "rate = 100000", &rate, NULL, NULL },
        { "batch", EVH_EX_JSON_UINT, false, "batch = 1", &batch, NULL, NULL },
    };
    char err[512];
    ticker *t;

    if (args == NULL || args->api == NULL || instance_out == NULL) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    if (!evh_ex_json_read_object(args->config_json.ptr, args->config_json.len, fields,
                                 sizeof fields / sizeof fields[0], err, sizeof err)) {
        evh_ex_set_errorf(args->api, args->host, "ticker: config: %s", err);
        return EVH_ERR_CONFIG;
    }
    /* The bounds keep the deadline arithmetic in 64 bits and the batch allocatable. */
    if (batch == 0 || batch > 65536) {
        evh_ex_set_errorf(args->api, args->host,
                          "ticker: config: key \"batch\" must be from 1 to 65536, e.g. batch = 1");
        return EVH_ERR_CONFIG;
    }
    if (rate > NS_PER_SEC) {
        evh_ex_set_errorf(args->api, args->host,
                          "ticker: config: key \"rate\" must be at most 1000000000 events per "
                          "second; use rate = 0 for no pacing");
        return EVH_ERR_CONFIG;
    }

    t = calloc(1, sizeof *t);
    if (t == NULL) {
        evh_ex_set_errorf(args->api, args->host, "ticker: out of memory");
        return EVH_ERR_INTERNAL;
    }
    t->host = args->host;
    t->api = args->api;
    t->count = count;
    t->rate = rate;
    t->batch = (size_t)batch;
    atomic_init(&t->stop, false);
    if (!ticker_alloc(t)) {
        ticker_free(t);
        evh_ex_set_errorf(args->api, args->host, "ticker: out of memory for a batch of %llu",
                          (unsigned long long)batch);
        return EVH_ERR_INTERNAL;
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        ticker_free(t);
        evh_ex_set_errorf(args->api, args->host, "ticker: cannot create a mutex");
        return EVH_ERR_INTERNAL;
    }
    if (pthread_cond_init(&t->stopped, NULL) != 0) {
        pthread_mutex_destroy(&t->lock);
        ticker_free(t);
        evh_ex_set_errorf(args->api, args->host, "ticker: cannot create a condition variable");
        return EVH_ERR_INTERNAL;
    }
    *instance_out = t;
    return EVH_OK;
}

static void ticker_destroy(void *instance)
{
    ticker *t = instance;
    pthread_cond_destroy(&t->stopped);
    pthread_mutex_destroy(&t->lock);
    ticker_free(t);
}

static bool stopping(ticker *t)
{
    return atomic_load_explicit(&t->stop, memory_order_relaxed) || t->api->stop_requested(t->host);
}

/* Idle: sleeps until on_stop, using no CPU at all meanwhile. */
static void wait_for_stop(ticker *t)
{
    pthread_mutex_lock(&t->lock);
    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        pthread_cond_wait(&t->stopped, &t->lock);
    }
    pthread_mutex_unlock(&t->lock);
}

/* Sleeps until `deadline` (CLOCK_MONOTONIC ns); false when a stop came first. */
static bool sleep_until(ticker *t, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ns(), wake;
        struct timespec at;

        if (stopping(t)) {
            return false;
        }
        if (now >= deadline) {
            return true;
        }
        wake = deadline - now > MAX_SLEEP_NS ? now + MAX_SLEEP_NS : deadline;
        at.tv_sec = (time_t)(wake / NS_PER_SEC);
        at.tv_nsec = (long)(wake % NS_PER_SEC);
        /* EINTR or an early wake-up just goes round again. */
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
    }
}

/* When event k is due, in ns after the start; split so that k * 1e9 cannot overflow. */
static uint64_t due_ns(uint64_t k, uint64_t rate)
{
    return k / rate * NS_PER_SEC + k % rate * NS_PER_SEC / rate;
}

/*
 * Sets the calling thread's timer slack, how late Linux may wake a sleep, and returns the
 * previous one (-1 where there is none). The default, 50 us, would turn 100 000 events/s
 * into bursts of five every 50 us instead of one every 10 us.
 */
static long set_timer_slack(long ns)
{
#ifdef __linux__
    long previous = (long)prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
    prctl(PR_SET_TIMERSLACK, (unsigned long)ns, 0UL, 0UL, 0UL);
    return previous;
#else
    (void)ns;
    return -1;
#endif
}

/* Emits at the configured rate until done or stopped. */
static evh_status pace(ticker *t)
{
    uint64_t next = 0, start = now_ns();

    while ((t->count == 0 || next < t->count) && !stopping(t)) {
        size_t n = t->count != 0 && t->count - next < t->batch ? (size_t)(t->count - next)
                                                               : t->batch;
        uint64_t stamp;
        evh_status status;
        size_t i, b;

        if (t->rate != 0 && !sleep_until(t, start + due_ns(next, t->rate))) {
            break;
        }
        stamp = now_ns();
        for (i = 0; i < n; i++) {
            t->events[i].id = evh_ex_format_id(t->ids + i * EVH_EX_ID_MAX, next + i);
            for (b = 0; b < STAMP_BYTES; b++) {
                t->stamps[i * STAMP_BYTES + b] = (uint8_t)(stamp >> (8 * b));
            }
        }
        status = t->api->emit(t->host, t->events, n, EVH_EMIT_BLOCK);
        if (status == EVH_STOPPED) {
            /* The host is shutting down; running until stopped is this producer's job. */
            break;
        }
        if (status != EVH_OK) {
            evh_str name = t->api->status_name(status);
            evh_ex_set_errorf(t->api, t->host, "ticker: emitting event %llu failed with %.*s (%d)",
                              (unsigned long long)next, (int)name.len,
                              name.ptr != NULL ? (const char *)name.ptr : "", (int)status);
            return status;
        }
        next += n;
    }
    return EVH_OK;
}

static evh_status ticker_run(void *instance)
{
    ticker *t = instance;
    long slack;
    evh_status status;

    if (t->count == 0 && t->rate == 0) {
        wait_for_stop(t);
        return EVH_OK;
    }
    /* The thread is the host's: its old slack goes back after. */
    slack = set_timer_slack(1);
    status = pace(t);
    if (slack > 0) {
        set_timer_slack(slack);
    }
    return status;
}

static void ticker_stop(void *instance)
{
    ticker *t = instance;
    pthread_mutex_lock(&t->lock);
    atomic_store_explicit(&t->stop, true, memory_order_relaxed);
    pthread_cond_broadcast(&t->stopped);
    pthread_mutex_unlock(&t->lock);
}

const evh_plugin evh_ex_ticker_plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_PRODUCER,
    .name = EVH_EX_STR("ticker"),
    .version = EVH_EX_STR(EVH_EX_VERSION),
    .description = EVH_EX_STR("emits events stamped with their emit time, paced at `rate` per "
                              "second; idle with count = 0 and rate = 0 (a benchmark fixture)"),
    .flags = 0,
    .on_create = ticker_create,
    .on_destroy = ticker_destroy,
    .on_run = ticker_run,
    .on_stop = ticker_stop,
};
