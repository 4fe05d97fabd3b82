#include "index_participant.h"

#include "kimera/identity_json.h"
#include "record_codec.h"
#include "rocksdb_database.h"

namespace kimera {
namespace {
constexpr std::size_t kRebuildBatch = 1000;
}  // namespace

IndexParticipant::IndexParticipant(IdentityStore* below, const PluginConfig& config, Clock clock)
    : below_(below),
      config_(config.entropy),
      clock_(std::move(clock)),
      changes_(config.entropy.change_rate_window_seconds, config.metrics.detailed) {}

IndexParticipant::~IndexParticipant() {
  // Writes of the records' store no longer reach this index.
  if (joined_) rocks_->RemoveParticipant(this);
  // No writer is left: the totals are the entries', for the next open to
  // read. A failed write only means that open counts the entries.
  if (loaded_ && !index_->database().read_only()) (void)index_->WriteSummary(State());
}

Status IndexParticipant::Open(IdentityStore* below, RocksDbStore* records,
                              const PluginConfig& config, Clock clock,
                              std::unique_ptr<IndexParticipant>* out) {
  std::unique_ptr<IndexParticipant> p(new IndexParticipant(below, config, std::move(clock)));
  if (config.index.separate_path.empty()) p->rocks_ = records;
  RocksDbDatabase* database = nullptr;
  if (p->rocks_ != nullptr) {
    database = &DatabaseOf(*p->rocks_);
  } else {
    if (config.index.separate_path.empty()) {
      return Status::InvalidArgument(
          "the wrapped store is not a RocksDbStore: set index.separate_path to a folder for "
          "the entropy index");
    }
    // The index database is opened as the records' one was: read-only,
    // salvaging, or neither.
    RocksDbOptions index_options;
    if (records != nullptr) {
      index_options.read_only = DatabaseOf(*records).read_only();
      index_options.salvage = DatabaseOf(*records).salvage();
    }
    Status s = RocksDbDatabase::Open(config.index.separate_path, index_options, &p->own_index_db_);
    if (!s.ok()) return s;
    database = p->own_index_db_.get();
  }
  if (database->read_only() && !database->HasColumnFamily(kEntropyIndexColumnFamily)) {
    return Status::NotFound("the database " + database->path() +
                            " has no entropy index yet, and a read-only open cannot build it; "
                            "open it once with a command that writes (kimera check --repair)");
  }
  bool created = false;
  Status s =
      EntropyIndex::Open(database, /*keeps_by_id=*/p->rocks_ == nullptr, &p->index_, &created);
  if (!s.ok()) return s;
  if (created) {
    s = p->Rebuild();
  } else if (p->rocks_ == nullptr && !database->read_only()) {
    std::vector<std::string> intents;
    s = p->index_->PendingIntents(&intents);
    for (std::size_t i = 0; s.ok() && i < intents.size(); ++i) s = p->Reconcile(intents[i]);
    if (s.ok()) s = p->LoadState();
  } else {
    s = p->LoadState();
  }
  if (!s.ok()) return s;
  *out = std::move(p);
  return Status::OK();
}

void IndexParticipant::Join() {
  if (rocks_ == nullptr || joined_) return;
  rocks_->AddParticipant(this);
  joined_ = true;
}

Status IndexParticipant::SyncOwnDatabase() {
  return own_index_db_ ? own_index_db_->SyncWal() : Status::OK();
}

IndexEntry IndexParticipant::EntryOf(const Identity& identity) const {
  IndexEntry e;
  e.id = identity.id;
  e.entropy = Entropy(identity);
  e.identity_type = identity.identity_type;
  e.tau = EffectiveTau(e.entropy, config_.decay);
  return e;
}

namespace {

// A record write's index entries, from Prepare to Committed.
struct EntryChange : WriteState {
  IndexEntry before, after;
};

}  // namespace

Status IndexParticipant::Prepare(RecordWrite& write) {
  auto change = std::make_unique<EntryChange>();
  if (write.before()) change->before = EntryOf(*write.before());
  if (write.after()) change->after = EntryOf(*write.after());
  index_->AddChanges(write.id(), write.before() ? &change->before : nullptr,
                     write.after() ? &change->after : nullptr, write.batch());
  write.state() = std::move(change);
  return Status::OK();
}

void IndexParticipant::Committed(RecordWrite& write) {
  const auto& change = static_cast<const EntryChange&>(*write.state());
  Apply(write.id(), write.before() ? &change.before : nullptr,
        write.after() ? &change.after : nullptr,
        write.before() && write.after() ? write.before()->updated_at : 0);
}

void IndexParticipant::Apply(std::string_view id, const IndexEntry* before, const IndexEntry* after,
                             Micros previous_update) {
  if (before) {
    population_.Remove(before->entropy);
    counts_[static_cast<std::size_t>(before->identity_type)].fetch_sub(1);
  }
  if (after) {
    population_.Add(after->entropy);
    counts_[static_cast<std::size_t>(after->identity_type)].fetch_add(1);
  }
  if (before && after) {
    changes_.Record(id, after->identity_type, before->entropy, after->entropy, clock_(),
                    previous_update);
  }
  if (!metrics_) return;
  metrics_->ObserveIndexUpdate(before != nullptr, after != nullptr);
  if (after) {
    metrics_->ObserveStore(after->identity_type, after->entropy, after->tau,
                           before ? std::optional<double>(before->entropy) : std::nullopt);
  } else if (before) {
    metrics_->ObserveRemove(before->identity_type, before->entropy);
  }
}

Status IndexParticipant::WriteIntent(std::string_view id) {
  rocksdb::WriteBatch batch;
  index_->AddIntent(id, &batch);
  return index_->database().Write(&batch);
}

Status IndexParticipant::Reconcile(std::string_view id) {
  Identity record;
  Status s = below_->Fetch(id, &record);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool has_after = s.ok();
  IndexEntry after = has_after ? EntryOf(record) : IndexEntry{};
  IndexEntry before;
  s = index_->Lookup(id, &before);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool has_before = s.ok();
  rocksdb::WriteBatch batch;
  index_->AddChanges(id, has_before ? &before : nullptr, has_after ? &after : nullptr, &batch);
  index_->ClearIntent(id, &batch);
  s = index_->database().Write(&batch);
  if (!s.ok()) return s;
  if (has_before && has_after && before.entropy == after.entropy &&
      before.identity_type == after.identity_type && before.tau == after.tau) {
    return Status::OK();
  }
  Apply(id, has_before ? &before : nullptr, has_after ? &after : nullptr,
        has_after ? record.updated_at : 0);
  return Status::OK();
}

Status IndexParticipant::LoadState() {
  IndexSummary summary;
  bool stored = false;
  RocksDbDatabase& database = index_->database();
  Status s = index_->ReadSummary(&summary, &stored);
  if (!s.ok() && !s.IsCorruption()) return s;
  // Counted instead when there are none, when one cannot be read (a corrupt
  // total must not keep the store from opening), or when the database was
  // salvaged: it may have lost writes the totals counted.
  const bool some_stored = stored || !s.ok();
  if (!s.ok() || !stored || database.salvage()) {
    s = CountEntries(&summary);
    if (!s.ok()) return s;
  }
  // Set aside before the first write, so that a crash leaves none.
  if (some_stored && !database.read_only()) {
    s = index_->ForgetSummary();
    if (!s.ok()) return s;
  }
  SetState(summary);
  return Status::OK();
}

Status IndexParticipant::RecountState() {
  IndexSummary summary;
  Status s = CountEntries(&summary);
  if (!s.ok()) return s;
  SetState(summary);
  return Status::OK();
}

Status IndexParticipant::CountEntries(IndexSummary* summary) const {
  *summary = IndexSummary{};
  return index_->ForEachOrdered({}, [&](std::string_view, const IndexEntry& e) {
    summary->Add(e);
    return true;
  });
}

IndexSummary IndexParticipant::State() const {
  IndexSummary summary;
  for (std::size_t t = 0; t < 2; ++t) summary.types[t] = counts_[t].load();
  population_.ForEachCount(
      [&](std::size_t cell, std::int64_t n) {
        summary.cells[static_cast<std::uint32_t>(cell)] = n;
      },
      [&](double entropy, std::int64_t n) { summary.exact[entropy] = n; });
  return summary;
}

void IndexParticipant::SetState(const IndexSummary& summary) {
  population_.Clear();
  for (const auto& [cell, n] : summary.cells) population_.AddToCell(cell, n);
  for (const auto& [entropy, n] : summary.exact) population_.AddExact(entropy, n);
  for (std::size_t t = 0; t < 2; ++t) counts_[t].store(summary.types[t]);
  loaded_ = true;
}

Status IndexParticipant::IndexEntryOf(std::string_view id, IndexEntry* out) {
  if (index_->keeps_by_id()) return index_->Lookup(id, out);
  Identity record;
  Status s = below_->Fetch(id, &record);
  if (!s.ok()) return s;
  return index_->LookupOrdered(Entropy(record), id, out);
}

Status IndexParticipant::ReadIndexed(std::string_view id, Identity* record, IndexEntry* entry,
                                     bool* indexed) {
  *indexed = false;
  Status s;
  if (rocks_ != nullptr) {
    const auto snapshot = rocks_->TakeSnapshot();
    std::vector<std::optional<Identity>> found;
    s = rocks_->ReadMany({std::string(id)}, snapshot.get(), &found);
    if (!s.ok()) return s;
    if (!found[0]) return Status::NotFound("identity '" + DisplayId(id) + "' not found");
    *record = std::move(*found[0]);
    s = index_->LookupOrdered(Entropy(*record), id, entry, snapshot->get());
  } else {
    std::lock_guard lock(locks_.For(id));
    s = below_->Fetch(id, record);
    if (!s.ok()) return s;
    s = index_->Lookup(id, entry);
  }
  if (s.IsNotFound()) return Status::OK();
  *indexed = s.ok();
  return s;
}

Status IndexParticipant::Rebuild() {
  Status s = index_->Clear();
  if (!s.ok()) return s;
  rocksdb::WriteBatch batch;
  Status write_status;
  s = below_->Scan({}, [&](const Identity& identity) {
    IndexEntry e = EntryOf(identity);
    index_->AddChanges(identity.id, nullptr, &e, &batch);
    if (batch.Count() >= kRebuildBatch) {
      write_status = index_->database().Write(&batch);
      batch.Clear();
    }
    return write_status.ok();
  });
  if (!write_status.ok()) return write_status;
  if (!s.ok()) return s;
  s = index_->database().Write(&batch);
  if (!s.ok()) return s;
  return RecountState();
}

std::uint64_t IndexParticipant::StoredCount(std::optional<IdentityType> type) const {
  const std::int64_t n = type ? counts_[static_cast<std::size_t>(*type)].load()
                              : counts_[0].load() + counts_[1].load();
  return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

}  // namespace kimera
