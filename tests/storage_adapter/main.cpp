#define BOOST_TEST_MODULE storage_adapter
#include <boost/test/unit_test.hpp>
