//! Linear models: the piece of ALEX that turns a key into a position.
//!
//! A model predicts `position = slope * (key - anchor) + intercept`. Keys are `u64`, and converting a
//! key near `2^64` to `f64` loses up to 11 bits, so the model measures keys relative to an `anchor`
//! (the smallest key it was trained on): inside one node keys are close together and the
//! difference converts exactly or nearly so. The prediction is approximate by nature; every caller
//! corrects it with a search that compares exact `u64` keys.

/// A linear model over `u64` keys, anchored at the smallest training key.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LinearModel {
    pub(crate) anchor: u64,
    pub(crate) slope: f64,
    pub(crate) intercept: f64,
}

impl LinearModel {
    /// A model that maps every key to `position`.
    pub(crate) fn constant(position: f64) -> Self {
        LinearModel {
            anchor: 0,
            slope: 0.0,
            intercept: position,
        }
    }

    /// `key - anchor` as a float, negative for keys below the anchor, without overflow.
    #[inline(always)]
    pub(crate) fn delta(&self, key: u64) -> f64 {
        if key >= self.anchor {
            (key - self.anchor) as f64
        } else {
            -((self.anchor - key) as f64)
        }
    }

    /// The unclamped predicted position of `key`.
    #[inline(always)]
    pub(crate) fn predict(&self, key: u64) -> f64 {
        self.slope * self.delta(key) + self.intercept
    }

    /// The predicted position clamped to `0..n` (`n >= 1`). NaN and negative predictions map to 0.
    #[inline(always)]
    pub(crate) fn predict_slot(&self, key: u64, n: usize) -> usize {
        // A slice's length fits `i64`, and a signed conversion is one instruction where an
        // unsigned one is five (x86-64 without AVX-512). The clamps are written as compares
        // so they compile to `maxsd` / `minsd` (NaN takes the lower bound).
        let last = (n - 1) as i64 as f64;
        let p = self.predict(key);
        let p = if p > 0.0 { p } else { 0.0 };
        let p = if p < last { p } else { last };
        // SAFETY: `0 <= p <= last < 2^63`: the truncation is in range (what `p as usize`
        // computes, without its saturation checks).
        unsafe { p.to_int_unchecked::<i64>() as usize }
    }

    /// Multiplies every prediction by `factor`.
    pub(crate) fn scale(&mut self, factor: f64) {
        self.slope *= factor;
        self.intercept *= factor;
    }

    /// Adds `offset` to every prediction.
    pub(crate) fn shift(&mut self, offset: f64) {
        self.intercept += offset;
    }

    /// Least-squares fit of `(keys[i], i * scale)` over sorted keys: the rank model scaled to
    /// a node of `keys.len() * scale` positions. One key, or all keys equal, give slope 0.
    pub(crate) fn fit_ranks(keys: &[u64], scale: f64) -> Self {
        Self::fit_points(
            keys.iter().enumerate().map(|(i, &k)| (k, i as f64 * scale)),
            keys.first().copied(),
        )
    }

    /// Least-squares fit over `(key, position)` points; `anchor` is the smallest key (or any key near
    /// the points, for precision). Two passes over the points (mean-centred) for numerical stability.
    pub(crate) fn fit_points<I>(points: I, anchor: Option<u64>) -> Self
    where
        I: Iterator<Item = (u64, f64)> + Clone,
    {
        let anchor = match anchor {
            Some(a) => a,
            None => return Self::constant(0.0),
        };
        let base = LinearModel {
            anchor,
            slope: 0.0,
            intercept: 0.0,
        };
        let (mut n, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
        for (k, y) in points.clone() {
            n += 1.0;
            sx += base.delta(k);
            sy += y;
        }
        if n == 0.0 {
            return Self::constant(0.0);
        }
        let (mx, my) = (sx / n, sy / n);
        let (mut sxx, mut sxy) = (0.0f64, 0.0f64);
        for (k, y) in points {
            let dx = base.delta(k) - mx;
            sxx += dx * dx;
            sxy += dx * (y - my);
        }
        if sxx <= 0.0 || !sxx.is_finite() || !sxy.is_finite() {
            return LinearModel {
                anchor,
                slope: 0.0,
                intercept: my,
            };
        }
        let slope = sxy / sxx;
        LinearModel {
            anchor,
            slope,
            intercept: my - slope * mx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_line_exactly() {
        let keys: Vec<u64> = (0..100).map(|i| 1000 + 3 * i).collect();
        let m = LinearModel::fit_ranks(&keys, 1.0);
        for (i, &k) in keys.iter().enumerate() {
            assert!((m.predict(k) - i as f64).abs() < 1e-9);
        }
    }

    #[test]
    fn keys_near_the_top_of_the_range_keep_their_precision() {
        let keys: Vec<u64> = (0..64).map(|i| u64::MAX - 640 + 10 * i).collect();
        let m = LinearModel::fit_ranks(&keys, 1.0);
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(m.predict_slot(k, 64), i);
        }
    }

    #[test]
    fn degenerate_inputs_do_not_divide_by_zero() {
        let m = LinearModel::fit_ranks(&[42], 1.0);
        assert_eq!(m.slope, 0.0);
        assert_eq!(m.predict_slot(7, 10), 0);
        let m = LinearModel::fit_ranks(&[], 1.0);
        assert_eq!(m.predict_slot(u64::MAX, 3), 0);
        let nan = LinearModel {
            anchor: 0,
            slope: f64::NAN,
            intercept: 0.0,
        };
        assert_eq!(nan.predict_slot(5, 8), 0);
    }

    #[test]
    fn clamps_to_the_array() {
        let m = LinearModel {
            anchor: 10,
            slope: 1.0,
            intercept: 0.0,
        };
        assert_eq!(m.predict_slot(0, 10), 0);
        assert_eq!(m.predict_slot(u64::MAX, 10), 9);
        assert_eq!(m.predict_slot(15, 10), 5);
    }
}
