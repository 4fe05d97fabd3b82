// CopyIteratorEntry: the one function through which project code reads the
// bytes of a RocksDB iterator's key and value (to decode or compare them).
//
// An iterator's key and value may point into a memtable that a writer thread
// filled inside librocksdb and published through RocksDB's lock-free skip
// list. librocksdb is not built with ThreadSanitizer, so that publication is
// invisible to it, and the first read of those bytes can be reported as a
// race. scripts/sanitize.sh suppresses races in this function and nowhere
// else in project code: the decoders work on the copies, so a race in them
// (or anywhere else in the project) is still reported.
//
// Thread-safety: a pure function of the iterator's current entry.
#ifndef KIMERA_ITERATOR_ENTRY_H_
#define KIMERA_ITERATOR_ENTRY_H_

#include <rocksdb/iterator.h>

#include <string>

namespace kimera {

// Replaces *key and *value with copies of the iterator's current entry.
// Requires it.Valid().
void CopyIteratorEntry(const rocksdb::Iterator& it, std::string* key, std::string* value);

}  // namespace kimera

#endif  // KIMERA_ITERATOR_ENTRY_H_
