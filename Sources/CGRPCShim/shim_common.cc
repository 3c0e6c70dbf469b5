// Pieces of the C API shared by server and client.
#include <cstdlib>

#include "shim_internal.h"

extern "C" void tsr_string_free(char *string) { std::free(string); }
