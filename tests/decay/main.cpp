#define BOOST_TEST_MODULE decay
#include <boost/test/unit_test.hpp>
