set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_mnist_hnsw_rerun.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'mnist10k (n=9000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
15679.146 0.98680
13571.244 0.98680
13677.813 0.99240
10061.677 0.99520
9758.578 0.99680
9926.190 0.99730
4439.734 0.99860
EOD
$d1 << EOD
22288.718 0.98680
23828.731 0.98680
13952.404 0.99240
15163.436 0.99520
9541.034 0.99680
10506.470 0.99730
5463.833 0.99860
EOD
$d2 << EOD
10279.250 0.99590
8232.171 0.99590
7609.254 0.99590
10873.657 0.99590
9092.771 0.99660
7721.208 0.99750
4834.477 0.99850
EOD
$d3 << EOD
8540.915 0.99590
10886.906 0.99590
11401.184 0.99590
10019.460 0.99590
9798.773 0.99660
8589.422 0.99750
4542.040 0.99850
EOD
$d4 << EOD
23504.348 0.95420
18375.409 0.98150
13818.884 0.99310
11125.081 0.99610
8215.638 0.99830
5371.610 0.99880
2478.741 0.99990
EOD
$d5 << EOD
23690.462 0.95420
18031.938 0.98150
13932.132 0.99310
11214.883 0.99610
9043.828 0.99830
6386.128 0.99880
3529.521 0.99990
EOD
$d6 << EOD
4267.932 0.97880
3166.528 0.99130
2433.780 0.99660
1670.127 0.99850
1618.658 0.99960
1408.476 0.99980
983.955 1.00000
EOD
$d7 << EOD
4028.327 0.97880
3010.690 0.99130
2383.752 0.99660
2111.464 0.99850
1771.249 0.99960
1561.432 0.99980
920.651 1.00000
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
