set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_synth1m_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'synth1m-128-norm-seed1 (n=1000000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
15303.062 0.68425
9630.597 0.83090
6356.660 0.93175
4516.679 0.96380
3418.640 0.97285
2484.372 0.98360
EOD
$d1 << EOD
30843.875 0.68425
18001.505 0.83090
12419.167 0.93175
8475.082 0.96380
6086.335 0.97285
4310.682 0.98360
EOD
$d2 << EOD
7092.541 0.68990
4053.270 0.83605
2088.069 0.93610
1608.213 0.96135
1358.722 0.97435
997.050 0.98720
EOD
$d3 << EOD
16365.110 0.68990
8953.247 0.83605
5512.041 0.93610
3043.717 0.96135
2380.775 0.97435
1831.290 0.98720
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
