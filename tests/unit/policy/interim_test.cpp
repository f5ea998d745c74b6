#include "policy/interim.h"

#include <doctest/doctest.h>

using namespace policy;

TEST_CASE("policy/interim: forwards_interim (RFC 9110 §15.2)") {
    struct Row {
        const char* name;
        int status;
        bool http10;
        bool forwarded;
    };
    const Row rows[] = {
        {"103 Early Hints", 103, false, true},
        {"102 Processing", 102, false, true},
        {"an unknown 1xx is forwarded too", 150, false, true},
        {"100 Continue was requested by dlproxy's libcurl", 100, false, false},
        {"101 is final for an upgrade", 101, false, false},
        {"never to an HTTP/1.0 client", 103, true, false},
        {"a final status is not interim", 200, false, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(forwards_interim(row.status, row.http10) == row.forwarded);
    }
}
