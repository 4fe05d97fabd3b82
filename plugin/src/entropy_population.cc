#include "entropy_population.h"

#include <cmath>

namespace kimera {

EntropyPopulation::EntropyPopulation() : cells_(new std::atomic<std::int64_t>[kCells]) {
  for (std::size_t i = 0; i < kCells; ++i) cells_[i].store(0, std::memory_order_relaxed);
}

std::size_t EntropyPopulation::Cell(double entropy) {
  // Cell i holds [i, i + 1) * resolution; rounding to the nearest cell centre
  // is what bounds the quantile error by half a cell.
  if (!(entropy > 0)) return 0;
  return static_cast<std::size_t>(entropy / kResolution);
}

void EntropyPopulation::Add(double entropy) {
  if (InCells(entropy)) {
    AddToCell(Cell(entropy), 1);
  } else {
    AddExact(entropy, 1);
  }
}

void EntropyPopulation::AddToCell(std::size_t cell, std::int64_t n) {
  total_.fetch_add(n, std::memory_order_relaxed);
  cells_[cell].fetch_add(n, std::memory_order_relaxed);
  cell_half_units_.fetch_add(static_cast<std::int64_t>(2 * cell + 1) * n,
                             std::memory_order_relaxed);
}

void EntropyPopulation::AddExact(double entropy, std::int64_t n) {
  total_.fetch_add(n, std::memory_order_relaxed);
  std::lock_guard lock(overflow_mu_);
  overflow_[entropy] += n;
}

void EntropyPopulation::ForEachCount(
    const std::function<void(std::size_t cell, std::int64_t n)>& cell,
    const std::function<void(double entropy, std::int64_t n)>& exact) const {
  for (std::size_t i = 0; i < kCells; ++i) {
    const std::int64_t n = cells_[i].load(std::memory_order_relaxed);
    if (n != 0) cell(i, n);
  }
  std::lock_guard lock(overflow_mu_);
  for (const auto& [entropy, n] : overflow_) exact(entropy, n);
}

void EntropyPopulation::Remove(double entropy) {
  total_.fetch_sub(1, std::memory_order_relaxed);
  if (entropy < kCellRange) {
    const std::size_t cell = Cell(entropy);
    cells_[cell].fetch_sub(1, std::memory_order_relaxed);
    cell_half_units_.fetch_sub(static_cast<std::int64_t>(2 * cell + 1), std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(overflow_mu_);
  auto it = overflow_.find(entropy);
  if (it != overflow_.end() && --it->second <= 0) overflow_.erase(it);
}

void EntropyPopulation::Clear() {
  for (std::size_t i = 0; i < kCells; ++i) cells_[i].store(0, std::memory_order_relaxed);
  total_.store(0, std::memory_order_relaxed);
  cell_half_units_.store(0, std::memory_order_relaxed);
  std::lock_guard lock(overflow_mu_);
  overflow_.clear();
}

std::uint64_t EntropyPopulation::size() const {
  std::int64_t n = total_.load(std::memory_order_relaxed);
  return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

double EntropyPopulation::Quantile(double q) const {
  const std::int64_t n = total_.load(std::memory_order_relaxed);
  if (n <= 0) return 0;
  const auto rank =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(q * static_cast<double>(n))));
  std::int64_t seen = 0;
  for (std::size_t i = 0; i < kCells; ++i) {
    seen += cells_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return (static_cast<double>(i) + 0.5) * kResolution;
  }
  std::lock_guard lock(overflow_mu_);
  double last = kCellRange;
  for (const auto& [entropy, count] : overflow_) {
    seen += count;
    last = entropy;
    if (seen >= rank) return entropy;
  }
  return last;
}

double EntropyPopulation::Sum() const {
  // Each value in a cell counts as the cell's centre, (cell + 0.5) * resolution.
  double sum =
      static_cast<double>(cell_half_units_.load(std::memory_order_relaxed)) * (kResolution / 2);
  std::lock_guard lock(overflow_mu_);
  for (const auto& [entropy, count] : overflow_) sum += entropy * static_cast<double>(count);
  return sum;
}

std::uint64_t EntropyPopulation::CountBelow(double threshold) const {
  std::int64_t below = 0;
  const std::size_t end = threshold >= kCellRange ? kCells : Cell(threshold);
  for (std::size_t i = 0; i < end; ++i) below += cells_[i].load(std::memory_order_relaxed);
  if (threshold > kCellRange) {
    std::lock_guard lock(overflow_mu_);
    for (const auto& [entropy, count] : overflow_) {
      if (entropy >= threshold) break;
      below += count;
    }
  }
  return below > 0 ? static_cast<std::uint64_t>(below) : 0;
}

}  // namespace kimera
