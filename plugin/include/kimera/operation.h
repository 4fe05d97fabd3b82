// Operation: the store's operations as kimera_storage_operations_total and
// kimera_storage_operations_duration_seconds label them (operation_type).
#ifndef KIMERA_OPERATION_H_
#define KIMERA_OPERATION_H_

#include <cstddef>
#include <cstdint>

namespace kimera {

enum class Operation : std::uint8_t {
  kStore,
  kFetch,
  kRemove,
  kList,
  kCount,
  kFindByEntropy,
  kScan,
  kApplyDecay,
  kSync,
  kCheck,
  kDualWriteVerify,
  kDualWriteRepair,
  kDualWriteStats,
  kFormStore,  // FormStore: the echo forms beside the identities.
  kFormFetch,
  kFormList,
  kFormCount,
  kFormPrune,  // PruneCreatedBefore and RemoveDomain.
  kFormDecay,
  kStoreMany,  // One StoreMany call, however many identities it holds.
};
inline constexpr std::size_t kOperationCount = 20;
const char* OperationName(Operation op);

}  // namespace kimera

#endif  // KIMERA_OPERATION_H_
