#define BOOST_TEST_MODULE dual_write
#include <boost/test/unit_test.hpp>
