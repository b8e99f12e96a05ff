//! `Db::get_with` lends hot-tier values in place while the tier recycles (`common::pins_stress`),
//! with the pin barriers the kernel offers (asymmetric on Linux).

mod common;
#[path = "common/pins_stress.rs"]
mod pins_stress;

#[test]
fn readers_see_whole_unchanging_values_while_the_tier_recycles() {
    pins_stress::readers_see_whole_unchanging_values_while_the_tier_recycles(
        common::tiny_tiers()
            .value_cache_bytes(0)
            .value_cache_entries(0),
    );
}
