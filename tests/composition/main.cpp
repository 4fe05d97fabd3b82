#define BOOST_TEST_MODULE composition
#include <boost/test/unit_test.hpp>
