// EntropyPopulation: the entropy of every identity currently stored, as
// counts at 0.001-bit resolution, so population percentiles are exact to
// within 0.0005 bits and cost one pass over a fixed array, whatever the
// number of identities; the sum is kept as values come and go.
//
// Entropies in [0, 64) bits land in fixed cells; larger ones (a scar with a
// heavy weight) are kept exactly in a small ordered map.
//
// Thread-safety: safe for concurrent use by many threads; Add and Remove are
// lock-free below 64 bits.
#ifndef KIMERA_ENTROPY_POPULATION_H_
#define KIMERA_ENTROPY_POPULATION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace kimera {

class EntropyPopulation {
 public:
  static constexpr double kResolution = 0.001;  // Bits per cell.
  static constexpr double kCellRange = 64.0;    // Bits covered by cells.

  EntropyPopulation();

  void Add(double entropy);
  void Remove(double entropy);
  void Clear();

  // Where a value is counted: in cell Cell(entropy) when InCells(entropy),
  // else exactly. For tallies kept elsewhere and loaded back with AddToCell
  // and AddExact (the entropy index's stored totals).
  static bool InCells(double entropy) { return entropy < kCellRange; }
  static std::size_t Cell(double entropy);
  static constexpr std::size_t kCells = static_cast<std::size_t>(kCellRange / kResolution);
  // Adds `n` values to cell `cell` (< kCells).
  void AddToCell(std::size_t cell, std::int64_t n);
  // Adds `n` values of exactly `entropy` (not InCells).
  void AddExact(double entropy, std::int64_t n);
  // Visits every cell and exact value holding values, with their number.
  void ForEachCount(const std::function<void(std::size_t cell, std::int64_t n)>& cell,
                    const std::function<void(double entropy, std::int64_t n)>& exact) const;

  std::uint64_t size() const;

  // The q-quantile (0 < q <= 1) by nearest rank: the smallest stored H such
  // that at least ceil(q * n) values are <= H, to within kResolution / 2.
  // 0 when empty.
  double Quantile(double q) const;
  // Sum of the stored values, each to within kResolution / 2.
  double Sum() const;
  // Number of stored values with H < threshold (to the cell holding it).
  std::uint64_t CountBelow(double threshold) const;

 private:
  std::unique_ptr<std::atomic<std::int64_t>[]> cells_;
  std::atomic<std::int64_t> total_{0};
  // Sum of (2 * cell + 1) over the values in cells: their sum in half cells,
  // so Sum costs no pass over the cells (it is read on every scrape).
  std::atomic<std::int64_t> cell_half_units_{0};
  mutable std::mutex overflow_mu_;  // Guards overflow_.
  std::map<double, std::int64_t> overflow_;
};

}  // namespace kimera

#endif  // KIMERA_ENTROPY_POPULATION_H_
