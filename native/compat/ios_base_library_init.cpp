// Provides std::ios_base_library_init() for hosts whose libstdc++ predates GCC 13.
//
// GCC 13 and later compile <iostream> into a call to this function (exported by libstdc++ under the
// version GLIBCXX_3.4.32) instead of giving every translation unit its own static std::ios_base::Init.
// A library built that way cannot load against the libstdc++ of GCC 12. Once this library sits in the
// global symbol scope, and the consumer's requirement on GLIBCXX_3.4.32 is marked weak, the dynamic
// loader binds the consumer's reference to the unversioned definition below.
#include <ios>

namespace std
{
    __attribute__((visibility("default"))) void ios_base_library_init()
    {
        // The standard streams get initialised once, the first time any caller asks; the object lives
        // until exit, exactly like the one GCC 13's libstdc++ keeps.
        static ios_base::Init init;
    }
}
