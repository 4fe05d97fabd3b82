#include "iterator_entry.h"

namespace kimera {

// Out of line on purpose: the sanitizer suppression names this function, so it
// must show as a frame of its own (see the header).
void CopyIteratorEntry(const rocksdb::Iterator& it, std::string* key, std::string* value) {
  const rocksdb::Slice k = it.key();
  const rocksdb::Slice v = it.value();
  key->assign(k.data(), k.size());
  value->assign(v.data(), v.size());
}

}  // namespace kimera
