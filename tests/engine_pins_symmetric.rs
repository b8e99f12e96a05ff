//! [`engine_pins`]'s check with the symmetric pin barriers (`ALEXKV_PIN_BARRIER=symmetric`, set
//! before this process opens its first database): the protocol used where membarrier is not
//! offered.

mod common;
#[path = "common/pins_stress.rs"]
mod pins_stress;

#[test]
fn readers_see_whole_unchanging_values_while_the_tier_recycles_with_symmetric_barriers() {
    // The only test of this binary, so no other thread reads the environment meanwhile.
    std::env::set_var("ALEXKV_PIN_BARRIER", "symmetric");
    pins_stress::readers_see_whole_unchanging_values_while_the_tier_recycles(
        common::tiny_tiers()
            .value_cache_bytes(0)
            .value_cache_entries(0),
    );
}
