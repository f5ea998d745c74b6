// dlproxyctl's commands, one file each (cmd_<name>.cpp). Each add_<name>() declares its
// subcommand, options and --help text on `app`; when the user picks it, `chosen` is set to the
// code that runs it, and main() calls that after the global options and --config are merged.
// A runner returns the exit code (context.h: kOk, kProblem, ...) or throws CtlError.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>

#include "proxy/ctl/context.h"

namespace ctl {

using Runner = std::function<int()>;

void add_ls(CLI::App& app, Context& ctx, Runner& chosen);
void add_show(CLI::App& app, Context& ctx, Runner& chosen);
void add_verify(CLI::App& app, Context& ctx, Runner& chosen);
void add_mutations(CLI::App& app, Context& ctx, Runner& chosen);  // evict, purge, gc
void add_stats(CLI::App& app, Context& ctx, Runner& chosen);
void add_export(CLI::App& app, Context& ctx, Runner& chosen);
void add_import(CLI::App& app, Context& ctx, Runner& chosen);
void add_prefetch(CLI::App& app, Context& ctx, Runner& chosen);
void add_ca(CLI::App& app, Context& ctx, Runner& chosen);  // ca init, ca show
void add_watch(CLI::App& app, Context& ctx, Runner& chosen);
void add_doctor(CLI::App& app, Context& ctx, Runner& chosen);

// Pretty-printed JSON on stdout, invalid UTF-8 replaced.
void print_json(const nlohmann::json& value);

// The present byte ranges of an object as half-open [begin, end) pairs, from its chunk map.
nlohmann::json present_ranges(const cache::ObjectInfo& object, const cache::ChunkMap& map);

}  // namespace ctl
