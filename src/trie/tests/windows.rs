//! Windows (`window.rs`): composite keys' separators, record names' digits, child layers'
//! own windows.

use super::*;

/// `"user:"` + a 10-digit id + `":"` + a field: the benchmarks' composite keys.
fn composite_keys(n: u64) -> Vec<Vec<u8>> {
    const FIELDS: [&str; 5] = ["address", "created", "email", "name", "phone"];
    let mut keys: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let id = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 2_500_000;
            format!("user:{id:010}:{}", FIELDS[(i % 5) as usize]).into_bytes()
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The model's keys inserted and bulk loaded: a root of `root_prefix` with a window, one key per
/// slot going on past it (the hint answers every key), and every answer the model's.
fn windowed_root_has_a_slot_per_key(
    model: &BTreeMap<Vec<u8>, u64>,
    probes: &[Vec<u8>],
    root_prefix: usize,
) {
    for t in &inserted_and_loaded(model) {
        let stats = t.stats();
        assert_eq!(stats.root_prefix, root_prefix, "{stats:?}");
        assert_eq!(stats.windowed_layers, 1, "{stats:?}");
        for (k, w) in model {
            assert_eq!(t.get_hinted(k, |_| true), Lookup::Candidate(*w), "{k:?}");
        }
        agree(t, model, probes);
    }
}

#[test]
fn composite_keys_skip_their_separator_so_each_key_has_a_slot_of_its_own() {
    let keys = composite_keys(6000);
    let model: BTreeMap<Vec<u8>, u64> = keys.iter().cloned().zip(0..).collect();
    // Keys that leave the window (another separator, an end inside it), that share a slot with
    // a key without being it, and bounds on both sides of the separator.
    let mut probes = probes_around(
        &keys,
        97,
        &[(15, b';'), (15, b'+'), (15, b'9'), (16, b'z')],
        &[8, 12, 15, 16, 17],
    );
    probes.extend(
        keys.iter()
            .step_by(97)
            .map(|k| [k.as_slice(), b"x"].concat()),
    );
    probes.push(b"user:000".to_vec());
    probes.push(b"user:001".to_vec());
    probes.push(b"user:0009999999;".to_vec());
    windowed_root_has_a_slot_per_key(&model, &probes, 8);

    // A key that breaks the window rebuilds the root without it; every answer stays exact.
    let mut t = loaded(&model);
    let mut model = model;
    for (n, odd) in [
        &b"user:0000000042;x"[..],
        b"user:0000000042:",
        b"user:00000000",
    ]
    .into_iter()
    .enumerate()
    {
        let w = 1_000_000 + n as u64;
        assert_eq!(insert_planned_one(&mut t, odd, w), None);
        model.insert(odd.to_vec(), w);
        assert_eq!(t.stats().windowed_layers, 0);
        agree(&t, &model, &probes);
    }
    for k in keys.iter().step_by(3) {
        assert_eq!(t.remove(k), model.remove(k));
    }
    agree(&t, &model, &probes);
}

/// YCSB-like record names: `user` and a hash of the record's number, 63 bits in decimal (16 to
/// 19 digits here). Mixed well, so that no name is another's with a digit added.
fn ycsb_names(n: u64) -> Vec<Vec<u8>> {
    let hash = |i: u64| {
        let z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (z ^ (z >> 29)) >> 1
    };
    let mut keys: Vec<Vec<u8>> = (1..=n)
        .map(|i| format!("user{}", hash(i)).into_bytes())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn record_names_get_a_digit_window_so_each_key_has_a_slot_of_its_own() {
    let keys = ycsb_names(6000);
    let model: BTreeMap<Vec<u8>, u64> = keys.iter().cloned().zip(0..).collect();
    // Keys that leave the window (a letter, a separator, an end inside it), keys past it, and
    // bounds on both sides of each.
    let mut probes = probes_around(
        &keys,
        97,
        &[(4, b'a'), (9, b':'), (12, b'/'), (15, b'0'), (16, b'9')],
        &[4, 8, 12, 13, 15, 16],
    );
    probes.extend(
        keys.iter()
            .step_by(97)
            .map(|k| [k.as_slice(), b"x"].concat()),
    );
    probes.push(b"user".to_vec());
    probes.push(b"user999999999999:".to_vec());
    windowed_root_has_a_slot_per_key(&model, &probes, 4);

    // Fewer digits: ten still make a digit window (rebuilt shorter), eight do not; a letter
    // inside the digits breaks it too. Every answer stays exact.
    let mut t = loaded(&model);
    let mut model = model;
    for (n, (odd, windowed)) in [
        (&b"user1234567890"[..], 1),
        (b"user12345678901234", 1),
        (b"user12345678", 0),
        (b"user123456789a", 0),
    ]
    .into_iter()
    .enumerate()
    {
        let w = 1_000_000 + n as u64;
        assert_eq!(insert_planned_one(&mut t, odd, w), None);
        model.insert(odd.to_vec(), w);
        assert_eq!(t.stats().windowed_layers, windowed, "after {odd:?}");
        agree(&t, &model, &probes);
    }
    for k in keys.iter().step_by(3) {
        assert_eq!(t.remove(k), model.remove(k));
    }
    agree(&t, &model, &probes);
}

#[test]
fn child_layers_get_windows_of_their_own_and_answer_exactly_when_keys_break_them() {
    // Three 8-byte heads that differ at every byte (no window at the root), each followed by
    // many `<5 digits>:<field>` tails: each head's long keys move to a child layer, whose slice
    // skips the `:`.
    const FIELDS: [&str; 5] = ["address", "created", "email", "name", "phone"];
    let mut model = BTreeMap::new();
    for (h, head) in ["aaaaaaaa", "bbbbbbbb", "cccccccc"].into_iter().enumerate() {
        for i in 0..400u64 {
            let id = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 100_000;
            let key = format!("{head}{id:05}:{}", FIELDS[(i % 5) as usize]);
            model.insert(key.into_bytes(), h as u64 * 1000 + i);
        }
    }
    let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    let mut probes = probes_around(
        &keys,
        37,
        &[(13, b';'), (13, b'+'), (13, 0xFF), (13, 0), (14, b'z')],
        &[8, 9, 13, 14, 15],
    );
    probes.push(b"bbbbbbbb\xFF\xFF\xFF\xFF\xFF;".to_vec());
    probes.push(b"bbbbbbbb99999;".to_vec());
    for t in &inserted_and_loaded(&model) {
        let stats = t.stats();
        assert_eq!(stats.windowed_layers, 3, "{stats:?}");
        assert!(stats.depth >= 2, "{stats:?}");
        agree(t, &model, &probes);
    }
    // Keys that break one child's window (another separator, an end inside it) rebuild that
    // child alone; the others keep theirs.
    let mut t = loaded(&model);
    for (n, odd) in [&b"bbbbbbbb00042;x"[..], b"bbbbbbbb00042:", b"bbbbbbbb0004"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(insert_planned_one(&mut t, odd, 9000 + n as u64), None);
        model.insert(odd.to_vec(), 9000 + n as u64);
        assert_eq!(t.stats().windowed_layers, 2);
        agree(&t, &model, &probes);
    }
    for k in keys.iter().step_by(2) {
        assert_eq!(t.remove(k), model.remove(k));
    }
    agree(&t, &model, &probes);
}
