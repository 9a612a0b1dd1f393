// digest.cpp: the C++ twin of the C example's `digest` consumer, and the proof that
// include/evhost.h compiles as strict C++17.
//
// Behaviour is the C plugin's, byte for byte (see ../c/digest.c): per event the FNV-1a
// hash takes the id, 0x1F, the type, 0x1F, the data, 0x1E; on_stop writes
//   {"count": N, "digest": "<16 lowercase hex digits>", "in_order": true|false}
// and a newline to `path`. The config is read with the host's config accessors, as the C
// twin reads it, so both accept the same configs with the same messages.
//
// No exception crosses the boundary: every hook runs its body inside guarded(), which
// turns any exception into set_error + EVH_ERR_INTERNAL (or a log line, for on_stop).

#include <cerrno>
#include <cstddef>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <string>

#include "evhost.h"

namespace {

constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

evh_str view(const char *s, std::size_t len) noexcept
{
    return evh_str{reinterpret_cast<const std::uint8_t *>(s), len};
}

evh_str view(const std::string &s) noexcept
{
    return view(s.data(), s.size());
}

class Digest {
public:
    Digest(evh_host *host, const evh_host_api *api, std::string path)
        : host_(host), api_(api), path_(std::move(path))
    {
    }

    void fold(const evh_event &e) noexcept
    {
        if (count_ > 0 && e.seq <= last_seq_) {
            in_order_ = false;
        }
        last_seq_ = e.seq;
        ++count_;

        hash_ = fnv1a(hash_, e.id.ptr, e.id.len);
        hash_ = fnv1a(hash_, 0x1F);
        hash_ = fnv1a(hash_, e.type.ptr, e.type.len);
        hash_ = fnv1a(hash_, 0x1F);
        hash_ = fnv1a(hash_, e.data.ptr, e.data.len);
        hash_ = fnv1a(hash_, 0x1E);
    }

    // Replaces the file at path_ with the summary line; trouble goes to the host's log,
    // since on_stop has no status to return.
    void write() const
    {
        char line[128];
        const int len = std::snprintf(
            line, sizeof line,
            "{\"count\": %" PRIu64 ", \"digest\": \"%016" PRIx64 "\", \"in_order\": %s}\n",
            count_, hash_, in_order_ ? "true" : "false");

        errno = 0;
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out.write(line, len);
        out.close();
        if (!out) {
            // The streams do not promise errno, but on the platforms we build for the
            // failing open/write/close leaves it set; say so only when it is.
            std::string msg = "cannot write " + path_;
            if (errno != 0) {
                msg += ": ";
                msg += std::strerror(errno);
            }
            api_->log(host_, EVH_LOG_ERROR, view(msg));
        }
    }

    evh_host *host() const noexcept { return host_; }
    const evh_host_api *api() const noexcept { return api_; }

private:
    static std::uint64_t fnv1a(std::uint64_t hash, std::uint8_t byte) noexcept
    {
        return (hash ^ byte) * kFnvPrime;
    }

    static std::uint64_t fnv1a(std::uint64_t hash, const std::uint8_t *p, std::size_t n) noexcept
    {
        for (std::size_t i = 0; i < n; ++i) {
            hash = fnv1a(hash, p[i]);
        }
        return hash;
    }

    evh_host *host_;
    const evh_host_api *api_;
    std::string path_;
    std::uint64_t hash_ = kFnvOffsetBasis;
    std::uint64_t count_ = 0;
    std::uint64_t last_seq_ = 0;
    bool in_order_ = true;
};

// Reports an exception that reached a hook. Formats into a fixed buffer, because an
// allocation here could throw again.
void report_exception(const evh_host_api *api, evh_host *host, const char *hook,
                      const char *what, bool as_log) noexcept
{
    char msg[512];
    int len = std::snprintf(msg, sizeof msg, "%s: unexpected exception: %s", hook, what);
    if (len < 0) {
        return;
    }
    if (static_cast<std::size_t>(len) >= sizeof msg) {
        len = sizeof msg - 1;
    }
    if (as_log) {
        api->log(host, EVH_LOG_ERROR, view(msg, static_cast<std::size_t>(len)));
    } else {
        api->set_error(host, view(msg, static_cast<std::size_t>(len)));
    }
}

// Runs a hook body; an exception becomes EVH_ERR_INTERNAL with its message (as_log: a log
// line, for hooks without a status).
template <typename Body>
evh_status guarded(const evh_host_api *api, evh_host *host, const char *hook, bool as_log,
                   Body &&body) noexcept
{
    try {
        return body();
    } catch (const std::exception &e) {
        report_exception(api, host, hook, e.what(), as_log);
    } catch (...) {
        report_exception(api, host, hook, "not a std::exception", as_log);
    }
    return EVH_ERR_INTERNAL;
}

evh_status create(const evh_create_args &args, void **instance_out)
{
    const evh_host_api &api = *args.api;
    // The accessors came with ABI 1.1; an early 1.1 host's table ends before them.
    if (api.struct_size < offsetof(evh_host_api, config_keys) + sizeof api.config_keys) {
        api.set_error(args.host, evh_str EVH_STR("this plugin reads its config with the host's "
                                                 "config accessors; upgrade evhost to a host "
                                                 "that has them"));
        return EVH_ERR_VERSION;
    }
    static const char *const keys[] = {"path"};
    evh_str raw{};
    evh_status status = api.config_keys(&args, "", keys, 1);
    if (status == EVH_OK) {
        status = api.config_string(&args, "path", EVH_CONFIG_REQUIRED, &raw);
    }
    if (status != EVH_OK) {
        return status; // the accessor recorded the message
    }
    // The view lives until on_create returns: copy it.
    std::string path(reinterpret_cast<const char *>(raw.ptr), raw.len);
    if (path.empty()) {
        api.set_error(args.host, evh_str EVH_STR("`path` = \"\" is empty; write a file path, "
                                                 "e.g. path = \"digest.json\""));
        return EVH_ERR_CONFIG;
    }

    // Relative paths are relative to the host's config file, as the host resolves its own.
    if (path.front() != '/' && path != "-" && args.config_dir.len > 0) {
        path = std::string(reinterpret_cast<const char *>(args.config_dir.ptr), args.config_dir.len) + "/" + path;
    }

    auto digest = std::make_unique<Digest>(args.host, args.api, std::move(path));
    *instance_out = digest.release();
    return EVH_OK;
}

} // namespace

// The hooks have C language linkage because the host calls them through C function
// pointer types; `static` keeps them out of the export table all the same.
extern "C" {

static evh_status digest_on_create(const evh_create_args *args, void **instance_out)
{
    if (args == nullptr || args->api == nullptr || instance_out == nullptr) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    return guarded(args->api, args->host, "on_create", false,
                   [&] { return create(*args, instance_out); });
}

static void digest_on_destroy(void *instance)
{
    delete static_cast<Digest *>(instance);
}

static evh_status digest_on_events(void *instance, const evh_event *const *events,
                                   std::size_t n, std::size_t *handled)
{
    static_cast<void>(handled); // Only read by the host after RETRY or FAIL.
    Digest &d = *static_cast<Digest *>(instance);
    for (std::size_t i = 0; i < n; ++i) {
        d.fold(*events[i]);
    }
    return EVH_OK;
}

static void digest_on_stop(void *instance)
{
    const Digest &d = *static_cast<const Digest *>(instance);
    guarded(d.api(), d.host(), "on_stop", true, [&] {
        d.write();
        return EVH_OK;
    });
}

} // extern "C"

namespace {

evh_plugin make_plugin() noexcept
{
    evh_plugin p{};
    p.struct_size = sizeof(evh_plugin);
    p.kind = EVH_KIND_CONSUMER;
    p.name = evh_str EVH_STR("digest");
    p.version = evh_str EVH_STR("0.1.0");
    p.description = evh_str EVH_STR("folds every event into a 64-bit FNV-1a digest and writes "
                                    "it to `path` on stop");
    p.flags = 0;
    p.on_create = digest_on_create;
    p.on_destroy = digest_on_destroy;
    p.on_stop = digest_on_stop;
    p.on_events = digest_on_events;
    return p;
}

// Built at load time (the reinterpret_casts in EVH_STR keep it from being constexpr);
// the host only reads it after evh_library_init, long after static initialization.
const evh_plugin kDigestPlugin = make_plugin();
const evh_plugin *const kPlugins[] = {&kDigestPlugin};

constexpr evh_library kLibrary = {
    sizeof(evh_library),
    EVH_ABI_VERSION_MAJOR,
    EVH_ABI_VERSION_MINOR,
    0,
    kPlugins,
    sizeof kPlugins / sizeof kPlugins[0],
};

} // namespace

extern "C" EVH_EXPORT evh_status evh_library_init(const evh_host_api *api,
                                                  const evh_library **out)
{
    if (api == nullptr || out == nullptr) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    // The host checks our minor against its own; the major must match on both sides.
    if (api->abi_major != EVH_ABI_VERSION_MAJOR) {
        return EVH_ERR_VERSION;
    }
    *out = &kLibrary;
    return EVH_OK;
}
