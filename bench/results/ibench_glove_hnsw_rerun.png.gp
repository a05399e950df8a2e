set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_glove_hnsw_rerun.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'glove100-100k (n=100000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
3752.097 0.89540
5492.524 0.89540
3488.029 0.91445
2447.476 0.93910
3322.832 0.96205
2175.806 0.97410
1220.530 0.99130
920.474 0.99710
EOD
$d1 << EOD
7970.776 0.89540
6407.341 0.89540
3778.427 0.91445
9851.339 0.93910
4948.751 0.96205
1636.756 0.97410
2563.218 0.99130
1712.840 0.99710
EOD
$d2 << EOD
5680.599 0.95175
5807.802 0.95175
6469.273 0.95175
5632.513 0.95175
4955.373 0.96140
3764.603 0.97365
3236.767 0.99095
1603.548 0.99695
EOD
$d3 << EOD
5716.182 0.95175
5771.678 0.95175
5582.691 0.95175
6808.313 0.95175
4902.961 0.96140
4849.792 0.97365
2766.195 0.99095
2338.725 0.99695
EOD
$d4 << EOD
16584.110 0.80155
15589.566 0.86585
11623.326 0.91065
9326.288 0.93830
9046.722 0.96125
4854.361 0.97360
2795.309 0.99120
2142.601 0.99710
EOD
$d5 << EOD
24778.079 0.80155
17777.690 0.86585
17205.280 0.91065
8196.981 0.93830
6292.556 0.96125
5394.343 0.97360
3080.480 0.99120
2818.405 0.99710
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)'
