#include "kimera/form_store.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>

#include "form_codec.h"
#include "form_rules.h"
#include "kimera/entropy_store.h"
#include "kimera/rocksdb_store.h"
#include "kimera/striped_locks.h"
#include "rocksdb_database.h"

namespace kimera {
namespace {

namespace codec = form_codec;

// Forms a sweep (prune, remove, decay) locks, reads and commits at once:
// one batch per chunk keeps a synced database from paying a sync per form.
constexpr std::size_t kSweepChunk = 128;
// A sweep's batch is committed early when it grows past this.
constexpr std::size_t kSweepBatchBytes = 8 << 20;
constexpr std::size_t kTimeBytes = 8;

// The smallest key above every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xFF) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

// Appended piece by piece: GCC 12 warns falsely (-Wrestrict) about
// "literal" + std::string.
std::string Quoted(std::string_view text) {
  std::string out(1, '\'');
  out += DisplayId(text);
  out += '\'';
  return out;
}

}  // namespace

class FormStore::Impl {
 public:
  // What a sweep does with one form it visits.
  enum class Step { kKeep, kRewrite, kDelete };
  // Decides for one form (freshly read under its lock); may change the
  // form's blob, intensity_sum and decay_applied_at when it rewrites.
  using StepFn = std::function<Step(EchoFormRecord*)>;

  Impl(RocksDbDatabase* database, rocksdb::ColumnFamilyHandle* cf, EntropyStore* plugin,
       Clock clock)
      : database_(database), cf_(cf), plugin_(plugin), clock_(std::move(clock)) {}

  EntropyStore& plugin() const { return *plugin_; }

  Status Store(const EchoFormRecord& form);
  Status Fetch(std::string_view anchor, EchoFormRecord* out);
  Status List(const std::optional<std::string>& domain, std::size_t limit,
              std::vector<EchoFormRecord>* out);
  Status Count(const std::optional<std::string>& domain, std::uint64_t* out);
  // Visits the forms named by the index keys in [begin, end) (their anchor
  // after `anchor_offset` bytes), lets `step` decide for each, commits.
  Status Sweep(const std::string& begin, const std::string& end, std::size_t anchor_offset,
               const StepFn& step, std::string_view context, std::uint64_t* changed);

 private:
  // IOError, as the database words it, when it is open read-only.
  Status Writable(std::string_view context) const;
  Status SweepChunk(std::vector<std::string>* anchors, const StepFn& step, std::string_view context,
                    std::uint64_t* changed);
  // Adds the writes that replace `before` (nullptr: none) by `after`.
  void AddPut(const EchoFormRecord* before, const EchoFormRecord& after, const std::string& value,
              rocksdb::WriteBatch* batch) const;
  void AddDelete(const EchoFormRecord& form, rocksdb::WriteBatch* batch) const;
  void AddCount(std::string_view domain, std::int64_t delta, rocksdb::WriteBatch* batch) const;
  Status ReadCounter(const std::string& key, std::uint64_t* out) const;

  RocksDbDatabase* const database_;
  // Null only in a read-only database that never had a form: reads find
  // nothing, writes are refused.
  rocksdb::ColumnFamilyHandle* const cf_;
  EntropyStore* const plugin_;
  const Clock clock_;
  StripedLocks locks_;  // Per anchor: the read-modify-write of its form.
};

Status FormStore::Impl::Writable(std::string_view context) const {
  if (!database_->read_only() && cf_ != nullptr) return Status::OK();
  return Status::IOError(std::string(context) + ": the database " + database_->path() +
                         " is open read-only");
}

void FormStore::Impl::AddCount(std::string_view domain, std::int64_t delta,
                               rocksdb::WriteBatch* batch) const {
  batch->Merge(cf_, codec::DomainCountKey(domain), RocksDbDatabase::EncodeCounter(delta));
}

void FormStore::Impl::AddPut(const EchoFormRecord* before, const EchoFormRecord& after,
                             const std::string& value, rocksdb::WriteBatch* batch) const {
  if (before == nullptr) {
    batch->Merge(cf_, codec::kCountKey, RocksDbDatabase::EncodeCounter(1));
    AddCount(after.domain, 1, batch);
    batch->Put(cf_, codec::CreatedKey(after.created_at, after.anchor), {});
  } else {
    batch->Delete(cf_, codec::UpdatedKey(before->updated_at, before->anchor));
    batch->Delete(cf_, codec::DomainKey(before->domain, before->updated_at, before->anchor));
    if (before->domain != after.domain) {
      AddCount(before->domain, -1, batch);
      AddCount(after.domain, 1, batch);
    }
  }
  batch->Put(cf_, codec::FormKey(after.anchor), value);
  batch->Put(cf_, codec::UpdatedKey(after.updated_at, after.anchor), {});
  batch->Put(cf_, codec::DomainKey(after.domain, after.updated_at, after.anchor), {});
}

void FormStore::Impl::AddDelete(const EchoFormRecord& form, rocksdb::WriteBatch* batch) const {
  batch->Delete(cf_, codec::FormKey(form.anchor));
  batch->Delete(cf_, codec::UpdatedKey(form.updated_at, form.anchor));
  batch->Delete(cf_, codec::DomainKey(form.domain, form.updated_at, form.anchor));
  batch->Delete(cf_, codec::CreatedKey(form.created_at, form.anchor));
  batch->Merge(cf_, codec::kCountKey, RocksDbDatabase::EncodeCounter(-1));
  AddCount(form.domain, -1, batch);
}

Status FormStore::Impl::Store(const EchoFormRecord& form) {
  if (Status s = form_rules::Validate(form); !s.ok()) return s;
  const std::string context = "storing form " + Quoted(form.anchor);
  if (Status s = Writable(context); !s.ok()) return s;
  std::lock_guard lock(locks_.For(form.anchor));
  EchoFormRecord before;
  Status s = Fetch(form.anchor, &before);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool replaces = s.ok();
  EchoFormRecord after = form;
  // Read under the lock, so two stores of one anchor stamp in commit order.
  const Micros now = clock_();
  if (replaces) {
    after.created_at = before.created_at;
    // A host stores back what it fetched, and the JSON it fetched does not
    // carry the last decay: counting from created_at again would apply the
    // same age twice.
    if (after.decay_applied_at == 0) after.decay_applied_at = before.decay_applied_at;
  } else if (after.created_at == 0) {
    after.created_at = now;
  }
  after.updated_at = now;
  std::string value;
  if (s = codec::EncodeForm(after, &value); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  AddPut(replaces ? &before : nullptr, after, value, &batch);
  return database_->Write(&batch, context);
}

Status FormStore::Impl::Fetch(std::string_view anchor, EchoFormRecord* out) {
  if (cf_ == nullptr) return Status::NotFound("no form " + Quoted(anchor));
  rocksdb::PinnableSlice value;
  const rocksdb::Status rs =
      database_->db()->Get(rocksdb::ReadOptions(), cf_, codec::FormKey(anchor), &value);
  if (rs.IsNotFound()) return Status::NotFound("no form " + Quoted(anchor));
  if (!rs.ok()) return RocksDbDatabase::FromRocks(rs, "reading form " + Quoted(anchor));
  return codec::DecodeForm(anchor, value.ToStringView(), out);
}

Status FormStore::Impl::List(const std::optional<std::string>& domain, std::size_t limit,
                             std::vector<EchoFormRecord>* out) {
  out->clear();
  if (cf_ == nullptr || limit == 0) return Status::OK();
  // The index key and the form commit in one batch: read both at one state.
  rocksdb::ManagedSnapshot snapshot(database_->db());
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();
  const std::string prefix =
      domain ? codec::DomainPrefix(*domain) : std::string(1, codec::kUpdatedTag);
  const std::string end = PrefixEnd(prefix);
  const rocksdb::Slice upper(end);
  options.iterate_upper_bound = &upper;
  std::vector<std::string> keys;
  {
    std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(options, cf_));
    for (it->Seek(prefix); it->Valid() && keys.size() < limit; it->Next()) {
      const std::string_view anchor =
          codec::AnchorOf(it->key().ToStringView(), prefix.size() + kTimeBytes);
      if (anchor.empty()) return Status::Corruption("form index key too short while listing");
      keys.push_back(codec::FormKey(anchor));
    }
    if (!it->status().ok()) return RocksDbDatabase::FromRocks(it->status(), "listing forms");
  }
  const std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  database_->db()->MultiGet(options, cf_, keys.size(), slices.data(), values.data(),
                            statuses.data());
  std::vector<EchoFormRecord> forms(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string_view anchor = codec::AnchorOf(keys[i], 1);
    if (statuses[i].IsNotFound()) {
      return Status::Corruption("form " + Quoted(anchor) + " is listed but not stored");
    }
    if (!statuses[i].ok()) {
      return RocksDbDatabase::FromRocks(statuses[i], "reading form " + Quoted(anchor));
    }
    if (Status s = codec::DecodeForm(anchor, values[i].ToStringView(), &forms[i]); !s.ok()) {
      return s;
    }
  }
  *out = std::move(forms);
  return Status::OK();
}

Status FormStore::Impl::ReadCounter(const std::string& key, std::uint64_t* out) const {
  *out = 0;
  if (cf_ == nullptr) return Status::OK();
  rocksdb::PinnableSlice value;
  const rocksdb::Status rs = database_->db()->Get(rocksdb::ReadOptions(), cf_, key, &value);
  if (rs.IsNotFound()) return Status::OK();
  if (!rs.ok()) return RocksDbDatabase::FromRocks(rs, "counting forms");
  const std::int64_t n = RocksDbDatabase::DecodeCounter(value.ToStringView());
  if (n < 0) return Status::Corruption("form counter is negative (" + std::to_string(n) + ")");
  *out = static_cast<std::uint64_t>(n);
  return Status::OK();
}

Status FormStore::Impl::Count(const std::optional<std::string>& domain, std::uint64_t* out) {
  return ReadCounter(domain ? codec::DomainCountKey(*domain) : std::string(codec::kCountKey), out);
}

Status FormStore::Impl::Sweep(const std::string& begin, const std::string& end,
                              std::size_t anchor_offset, const StepFn& step,
                              std::string_view context, std::uint64_t* changed) {
  *changed = 0;
  if (Status s = Writable(context); !s.ok()) return s;
  rocksdb::ReadOptions options;
  const rocksdb::Slice upper(end);
  options.iterate_upper_bound = &upper;
  // The iterator reads one state; each chunk reads its forms again under
  // their locks, so a form stored or removed meanwhile is judged as it is.
  std::unique_ptr<rocksdb::Iterator> it(database_->db()->NewIterator(options, cf_));
  std::vector<std::string> anchors;
  for (it->Seek(begin); it->Valid(); it->Next()) {
    const std::string_view anchor = codec::AnchorOf(it->key().ToStringView(), anchor_offset);
    if (anchor.empty()) return Status::Corruption(std::string(context) + ": key too short");
    anchors.emplace_back(anchor);
    if (anchors.size() < kSweepChunk) continue;
    if (Status s = SweepChunk(&anchors, step, context, changed); !s.ok()) return s;
  }
  if (!it->status().ok()) return RocksDbDatabase::FromRocks(it->status(), context);
  return SweepChunk(&anchors, step, context, changed);
}

Status FormStore::Impl::SweepChunk(std::vector<std::string>* anchors, const StepFn& step,
                                   std::string_view context, std::uint64_t* changed) {
  if (anchors->empty()) return Status::OK();
  const StripedLocks::Group guard(locks_,
                                  std::vector<std::string_view>(anchors->begin(), anchors->end()));
  // One form read at a time and the batch committed whenever it passes
  // kSweepBatchBytes: a sweep's memory stays bounded by one form and one
  // batch, whatever the forms weigh.
  rocksdb::WriteBatch batch;
  std::uint64_t count = 0;
  for (const std::string& anchor : *anchors) {
    EchoFormRecord form;
    Status s = Fetch(anchor, &form);
    if (s.IsNotFound()) continue;  // Removed since the scan.
    if (!s.ok()) return s;
    switch (step(&form)) {
      case Step::kKeep:
        continue;
      case Step::kDelete:
        AddDelete(form, &batch);
        break;
      case Step::kRewrite: {
        // A rewrite keeps created_at, updated_at and domain: no index key moves.
        std::string value;
        if (s = codec::EncodeForm(form, &value); !s.ok()) return s;
        batch.Put(cf_, codec::FormKey(anchor), value);
        break;
      }
    }
    ++count;
    if (batch.GetDataSize() >= kSweepBatchBytes) {
      if (s = database_->Write(&batch, context); !s.ok()) return s;
      *changed += count;
      count = 0;
      batch.Clear();
    }
  }
  anchors->clear();
  if (count == 0) return Status::OK();
  if (Status s = database_->Write(&batch, context); !s.ok()) return s;
  *changed += count;
  return Status::OK();
}

Status FormStore::Open(RocksDbStore& records, EntropyStore& plugin, Clock clock,
                       std::unique_ptr<FormStore>* out) {
  RocksDbDatabase& database = DatabaseOf(records);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  // A read-only database that never had a form has no column family: an
  // empty one reads the same.
  if (!database.read_only() || database.HasColumnFamily(codec::kColumnFamily)) {
    if (Status s = database.ColumnFamily(codec::kColumnFamily, &cf); !s.ok()) return s;
  }
  if (!clock) clock = SystemNow;
  out->reset(new FormStore(std::make_unique<Impl>(&database, cf, &plugin, std::move(clock))));
  return Status::OK();
}

FormStore::FormStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FormStore::~FormStore() = default;

Status FormStore::Store(const EchoFormRecord& form) {
  return impl_->plugin().Timed(Operation::kFormStore, [&] { return impl_->Store(form); });
}

Status FormStore::Fetch(std::string_view anchor, EchoFormRecord* out) {
  return impl_->plugin().Timed(Operation::kFormFetch, [&] { return impl_->Fetch(anchor, out); });
}

Status FormStore::List(const std::optional<std::string>& domain, std::size_t limit,
                       std::vector<EchoFormRecord>* out) {
  return impl_->plugin().Timed(Operation::kFormList,
                               [&] { return impl_->List(domain, limit, out); });
}

Status FormStore::Count(const std::optional<std::string>& domain, std::uint64_t* out) {
  return impl_->plugin().Timed(Operation::kFormCount, [&] { return impl_->Count(domain, out); });
}

Status FormStore::PruneCreatedBefore(Micros cutoff, std::uint64_t* deleted) {
  return impl_->plugin().Timed(Operation::kFormPrune, [&] {
    return impl_->Sweep(
        std::string(1, codec::kCreatedTag), codec::CreatedBound(cutoff), 1 + kTimeBytes,
        [cutoff](EchoFormRecord* form) {
          return form->created_at < cutoff ? Impl::Step::kDelete : Impl::Step::kKeep;
        },
        "pruning forms", deleted);
  });
}

Status FormStore::RemoveDomain(std::string_view domain, std::uint64_t* deleted) {
  return impl_->plugin().Timed(Operation::kFormPrune, [&] {
    const std::string prefix = codec::DomainPrefix(domain);
    return impl_->Sweep(
        prefix, PrefixEnd(prefix), prefix.size() + kTimeBytes,
        [domain](EchoFormRecord* form) {
          return form->domain == domain ? Impl::Step::kDelete : Impl::Step::kKeep;
        },
        "removing the forms of domain " + Quoted(domain), deleted);
  });
}

Status FormStore::Decay(double tau_seconds, Micros now, std::uint64_t* updated) {
  return impl_->plugin().Timed(Operation::kFormDecay, [&] {
    *updated = 0;
    if (!std::isfinite(tau_seconds) || tau_seconds <= 0) {
      return Status::InvalidArgument("form decay: tau_seconds must be finite and > 0 (got " +
                                     std::to_string(tau_seconds) + ")");
    }
    // The created_at index, whose values are empty: the forms themselves
    // are read once each, under their lock.
    const std::string created(1, codec::kCreatedTag);
    return impl_->Sweep(
        created, PrefixEnd(created), 1 + kTimeBytes,
        [tau_seconds, now](EchoFormRecord* form) {
          // Counted from the last decay, so that decaying at t1 then t2
          // multiplies by exactly what one decay at t2 would.
          const Micros since =
              form->decay_applied_at != 0 ? form->decay_applied_at : form->created_at;
          if (now <= since) return Impl::Step::kKeep;
          const double age_seconds = static_cast<double>(now - since) / 1e6;
          form_rules::Scale(form, DecayFactor(age_seconds, tau_seconds));
          form->decay_applied_at = now;
          return Impl::Step::kRewrite;
        },
        "decaying forms", updated);
  });
}

}  // namespace kimera
