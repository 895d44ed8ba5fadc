// The data line of `sylva status --name`: images with their per-channel
// statistics, tables with the first columns' and the count.
#include <gtest/gtest.h>

#include "experiments/report.h"

namespace sylva::experiments {
namespace {

TEST(DataLine, ImagesAndTablesReadInOneLine) {
  EXPECT_EQ(data_line(R"({"format":"cifar10","path":"/d","train":50000,"test":10000,)"
                      R"("test_held_out":false,"shape":[3,32,32],"classes":10,)"
                      R"("mean":[0.4914,0.4822,0.4465],"stddev":[0.247,0.2435,0.2616]})"),
            "data: cifar10 /d: 50000 train, 10000 test, 3x32x32, 10 classes; mean 0.491 0.482 "
            "0.447, std 0.247 0.243 0.262");
  EXPECT_EQ(data_line(R"({"format":"csv","path":"t.csv","train":9,"test":1,"test_held_out":true,)"
                      R"("shape":[10,1,1],"classes":2,"mean":[0,1,2,3,4,5,6,7,8,9],)"
                      R"("stddev":[1,1,1,1,1,1,1,1,1,1]})"),
            "data: csv t.csv: 9 train, 1 test (held out), 10 features, 2 classes; mean 0.000 "
            "1.000 2.000 3.000 4.000 5.000 ... (10 columns), std 1.000 1.000 1.000 1.000 1.000 "
            "1.000 ... (10 columns)");
  EXPECT_EQ(data_line(""), "");
  EXPECT_EQ(data_line("{").rfind("data: unreadable (", 0), 0u);
}

}  // namespace
}  // namespace sylva::experiments
