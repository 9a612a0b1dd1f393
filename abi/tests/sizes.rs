//! The 1.0 sizes a 1.1 host and SDK compare `struct_size` against are the sizes a library
//! built from the 1.0 header reports (`sizeof` in tests/fixtures/c/evhost-1.0.h, on LP64).

use evhost_abi::{evh_host_api, evh_plugin, host_api_size_1_0, host_api_size_1_1, plugin_size_1_0, struct_size};

#[test]
fn the_1_0_sizes_are_those_of_the_1_0_header() {
    // evh_host_api 1.0: three u32 (padded to 16 bytes) and five function pointers.
    assert_eq!(host_api_size_1_0(), 16 + 5 * 8);
    // evh_plugin 1.0: struct_size and kind, three views, flags and six hooks.
    assert_eq!(plugin_size_1_0(), 8 + 3 * 16 + 8 + 6 * 8);
    // 1.1 appended exactly twelve entries to the table (three for commits, nine config
    // accessors) and one hook to the plugin.
    assert_eq!(host_api_size_1_1(), host_api_size_1_0() + 12 * 8);
    // 1.2 appended three: claim, publish and abandon.
    assert_eq!(struct_size::<evh_host_api>() as usize, host_api_size_1_1() + 3 * 8);
    assert_eq!(struct_size::<evh_plugin>() as usize, plugin_size_1_0() + 8);
}
