// Replays a corpus through a fuzz target without libFuzzer, so that every corpus runs as an
// ordinary test under gcc (and under ASan/UBSan in build-asan):
//
//   <target>_replay PATH...   PATH is a corpus directory (every regular file in it, in name
//                             order) or a single input file
//
// Exit status 0 when every input ran; a property violation aborts inside the target. An empty
// corpus is a failure: a replay test that replays nothing proves nothing.
//
// Files named crash-* in a corpus directory are reproducers of open findings (docs/fuzzing.md):
// they are listed, not replayed, so the suite stays green while the bug is open. Once it is
// fixed, rename the file to regress-* and it is replayed like every other input. Naming a
// crash-* file explicitly on the command line replays it.
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The input being replayed, for the abort handler. A fixed buffer: the handler may only write().
char g_current[4096];

void on_abort(int) {
    const char prefix[] = "replay: aborted on input ";
    (void)!write(STDERR_FILENO, prefix, sizeof prefix - 1);
    (void)!write(STDERR_FILENO, g_current, std::strlen(g_current));
    (void)!write(STDERR_FILENO, "\n", 1);
    std::signal(SIGABRT, SIG_DFL);
    std::raise(SIGABRT);
}

bool replay_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
        return false;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::snprintf(g_current, sizeof g_current, "%s", path.c_str());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGABRT, on_abort);
    size_t replayed = 0;
    for (int i = 1; i < argc; ++i) {
        std::filesystem::path arg(argv[i]);
        std::vector<std::filesystem::path> files;
        if (std::filesystem::is_directory(arg)) {
            for (const auto& entry : std::filesystem::directory_iterator(arg)) {
                if (!entry.is_regular_file()) continue;
                if (entry.path().filename().string().starts_with("crash-"))
                    std::printf("replay: open finding, not replayed: %s\n", entry.path().c_str());
                else
                    files.push_back(entry.path());
            }
            std::sort(files.begin(), files.end());
        } else {
            files.push_back(arg);
        }
        for (const auto& f : files) {
            if (!replay_file(f)) return 1;
            ++replayed;
        }
    }
    std::printf("replay: %zu inputs, all properties held\n", replayed);
    return replayed > 0 ? 0 : 1;
}
