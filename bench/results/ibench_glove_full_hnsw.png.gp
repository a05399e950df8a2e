set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_glove_full_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'glove100 (n=331479, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
13034.238 0.87660
12234.444 0.89640
10411.652 0.92145
7314.264 0.94725
5750.081 0.96085
3997.682 0.97670
3307.137 0.98295
3678.979 0.98990
EOD
$d1 << EOD
28267.320 0.87660
27570.944 0.89640
21080.434 0.92145
14932.750 0.94725
12320.863 0.96085
10789.208 0.97670
7794.419 0.98295
6440.908 0.98990
EOD
$d2 << EOD
6847.904 0.84895
9998.222 0.89555
5745.065 0.92240
4909.663 0.94850
3343.499 0.96200
1834.338 0.97715
1515.737 0.98340
1795.618 0.99025
EOD
$d3 << EOD
14383.404 0.84895
14593.606 0.89555
13395.886 0.92240
8094.475 0.94850
5847.599 0.96200
7195.095 0.97715
5905.036 0.98340
3248.172 0.99025
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
