//! Every ranked rating, highest first, in chunks: a rank is a count of the ratings
//! above, and one account's change moves at most one chunk's worth of memory (a
//! single sorted vector of a million would move megabytes per change).

/// Ratings per chunk after a full reading; a chunk splits in two past twice this.
pub const CHUNK: usize = 512;

/// The ratings, highest first: every rating in a chunk is at least every rating in
/// the chunks after it.
#[derive(Debug, Default)]
pub struct SortedRatings {
    chunks: Vec<Vec<f64>>,
    len: usize,
}

impl SortedRatings {
    /// From ratings already sorted highest first.
    pub fn from_descending(sorted: &[f64]) -> SortedRatings {
        SortedRatings { chunks: sorted.chunks(CHUNK).map(<[f64]>::to_vec).collect(), len: sorted.len() }
    }

    /// How many ratings there are.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many ratings are strictly higher than `rating`.
    pub fn above(&self, rating: f64) -> usize {
        let mut count = 0;
        for chunk in &self.chunks {
            let higher = chunk.partition_point(|&r| r > rating);
            count += higher;
            if higher < chunk.len() {
                break;
            }
        }
        count
    }

    /// The first chunk that may hold `rating` (its lowest is not above it).
    fn chunk_for(&self, rating: f64) -> usize {
        self.chunks.partition_point(|c| c.last().is_some_and(|&lowest| lowest > rating))
    }

    pub fn insert(&mut self, rating: f64) {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let i = self.chunk_for(rating).min(self.chunks.len() - 1);
        let chunk = &mut self.chunks[i];
        let at = chunk.partition_point(|&r| r > rating);
        chunk.insert(at, rating);
        if chunk.len() > 2 * CHUNK {
            let upper = chunk.split_off(CHUNK);
            self.chunks.insert(i + 1, upper);
        }
        self.len += 1;
    }

    /// Remove one rating equal to `rating`; false if there is none.
    pub fn remove(&mut self, rating: f64) -> bool {
        for i in self.chunk_for(rating)..self.chunks.len() {
            let chunk = &mut self.chunks[i];
            let at = chunk.partition_point(|&r| r > rating);
            if at == chunk.len() {
                continue;
            }
            if chunk[at] != rating {
                return false;
            }
            chunk.remove(at);
            if chunk.is_empty() {
                self.chunks.remove(i);
            }
            self.len -= 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers as a plain sorted vector, through many inserts and removals
    /// that split and empty chunks.
    #[test]
    fn chunks_answer_as_one_sorted_vector_does() {
        let mut plain: Vec<f64> = (0..3 * CHUNK).map(|i| (i % 97) as f64).collect();
        plain.sort_by(|a, b| b.total_cmp(a));
        let mut chunked = SortedRatings::from_descending(&plain);
        for step in 0..6 * CHUNK {
            let value = ((step * 31) % 113) as f64 - 5.0;
            if step % 3 == 2 {
                let had = plain.iter().position(|&r| r == value);
                assert_eq!(chunked.remove(value), had.is_some(), "removing {value}");
                if let Some(i) = had {
                    plain.remove(i);
                }
            } else {
                chunked.insert(value);
                let at = plain.partition_point(|&r| r > value);
                plain.insert(at, value);
            }
            assert_eq!(chunked.len(), plain.len());
            for probe in [-10.0, value, 0.0, 50.5, 96.0, 200.0] {
                assert_eq!(chunked.above(probe), plain.partition_point(|&r| r > probe), "above {probe}");
            }
        }
        while let Some(&last) = plain.last() {
            assert!(chunked.remove(last));
            plain.pop();
        }
        assert!(chunked.is_empty() && chunked.chunks.is_empty());
        assert!(!chunked.remove(1.0));
        assert_eq!(chunked.above(1.0), 0);
    }
}
