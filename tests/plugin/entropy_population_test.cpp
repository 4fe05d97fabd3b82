// EntropyPopulation: exact nearest-rank percentiles of the stored set.
#include "entropy_population.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace kimera {
namespace {

double NearestRank(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<std::size_t>(rank, 1) - 1];
}

constexpr double kTolerance = EntropyPopulation::kResolution / 2 + 1e-12;

BOOST_AUTO_TEST_SUITE(entropy_population)

BOOST_AUTO_TEST_CASE(empty_population_has_zero_quantiles) {
  EntropyPopulation population;
  BOOST_TEST(population.size() == 0u);
  BOOST_TEST(population.Quantile(0.5) == 0.0);
  BOOST_TEST(population.CountBelow(1.0) == 0u);
}

BOOST_AUTO_TEST_CASE(quantiles_match_nearest_rank_within_half_a_cell) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> bits(0.0, 8.0);
  EntropyPopulation population;
  std::vector<double> values;
  for (int i = 0; i < 100'000; ++i) {
    const double h = i % 10 == 0 ? 2.0 : bits(rng);
    population.Add(h);
    values.push_back(h);
  }
  BOOST_TEST(population.size() == values.size());
  for (double q : {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
    BOOST_TEST(std::abs(population.Quantile(q) - NearestRank(values, q)) <= kTolerance, "q " << q);
  }
}

BOOST_AUTO_TEST_CASE(removal_takes_value_out_of_quantiles) {
  EntropyPopulation population;
  std::vector<double> values;
  for (int i = 1; i <= 1'000; ++i) {
    population.Add(i * 0.01);
    values.push_back(i * 0.01);
  }
  // Drop the top half: the median falls to the old first quartile.
  for (int i = 501; i <= 1'000; ++i) population.Remove(i * 0.01);
  values.resize(500);
  for (double q : {0.5, 0.9, 0.99}) {
    BOOST_TEST(std::abs(population.Quantile(q) - NearestRank(values, q)) <= kTolerance);
  }
  population.Clear();
  BOOST_TEST(population.size() == 0u);
  BOOST_TEST(population.Quantile(0.9) == 0.0);
}

BOOST_AUTO_TEST_CASE(values_beyond_cells_are_kept_exactly) {
  EntropyPopulation population;
  for (int i = 0; i < 10; ++i) population.Add(1.0);
  population.Add(100.25);
  population.Add(70.5);
  BOOST_TEST(population.Quantile(1.0) == 100.25);
  BOOST_TEST(population.Quantile(0.9) == 70.5);  // Rank 11 of 12.
  BOOST_TEST(std::abs(population.Quantile(0.5) - 1.0) <= kTolerance);
  population.Remove(100.25);
  BOOST_TEST(population.Quantile(1.0) == 70.5);
  BOOST_TEST(population.CountBelow(80) == 11u);
  BOOST_TEST(population.CountBelow(64) == 10u);
}

BOOST_AUTO_TEST_CASE(count_below_splits_categories) {
  EntropyPopulation population;
  for (double h : {0.0, 0.5, 0.999, 1.0, 2.0, 2.999, 3.0, 4.5}) population.Add(h);
  BOOST_TEST(population.CountBelow(1.0) == 3u);
  BOOST_TEST(population.CountBelow(3.0) == 6u);
}

BOOST_AUTO_TEST_CASE(concurrent_adds_and_removes_balance) {
  EntropyPopulation population;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&population, t] {
      for (int i = 0; i < 50'000; ++i) {
        const double h = (i % 1000) * 0.003 + t + (i % 500 == 0 ? 70 : 0);
        population.Add(h);
        if (i % 2 == 0) population.Remove(h);
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(population.size() == 100'000u);
  // What stays: the odd i of every thread. Every value above the cells (the +70 at multiples of
  // 500, all even) was removed again, so the maximum is back inside the cells.
  std::vector<double> kept;
  for (int t = 0; t < 4; ++t) {
    for (int i = 1; i < 50'000; i += 2) kept.push_back((i % 1000) * 0.003 + t);
  }
  for (double q : {0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0}) {
    BOOST_TEST(std::abs(population.Quantile(q) - NearestRank(kept, q)) <= kTolerance, "q " << q);
  }
  BOOST_TEST(population.Quantile(1.0) < 6.0);
  double sum = 0;
  std::uint64_t below_one = 0;  // 0.999 at most: no value sits in the cell of 1.0.
  for (double h : kept) {
    sum += h;
    below_one += h < 1.0;
  }
  BOOST_TEST(population.CountBelow(1.0) == below_one);
  BOOST_TEST(std::abs(population.Sum() - sum) <= kTolerance * static_cast<double>(kept.size()));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace kimera
