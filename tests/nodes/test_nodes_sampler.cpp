// Being written.
#include "abi_fixture.h"
