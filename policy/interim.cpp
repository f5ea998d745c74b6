#include "policy/interim.h"

namespace policy {

bool forwards_interim(int status, bool client_http10) {
    if (client_http10) return false;
    return status >= 102 && status <= 199;
}

}  // namespace policy
