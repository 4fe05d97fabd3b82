#include "metrics_exposition.h"

#include <prometheus/collectable.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace kimera {

MetricsExposition::MetricsExposition(const MetricsConfig& config,
                                     std::shared_ptr<prometheus::Registry> registry,
                                     std::shared_ptr<prometheus::Collectable> own)
    : config_(config), registry_(std::move(registry)), own_(std::move(own)) {}

MetricsExposition::~MetricsExposition() { endpoint_.reset(); }

Status MetricsExposition::Start() {
  if (endpoint_) return Status::OK();
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables = {registry_, own_};
  {
    std::lock_guard lock(mu_);
    for (const auto& c : added_) collectables.push_back(c);
  }
  return MetricsEndpoint::Start(config_, collectables, &endpoint_);
}

void MetricsExposition::Add(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard lock(mu_);
  added_.push_back(collectable);
  // Under the lock, so a Start running meanwhile cannot miss it.
  if (endpoint_) endpoint_->Register(collectable);
}

std::string MetricsExposition::Text() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  auto own = own_->Collect();
  families.insert(families.end(), own.begin(), own.end());
  {
    std::lock_guard lock(mu_);
    for (const auto& c : added_) {
      auto more = c->Collect();
      families.insert(families.end(), more.begin(), more.end());
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace kimera
