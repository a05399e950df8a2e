set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_synth1m_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'synth1m-128-norm-seed1 (n=1000000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
7216.489 0.68400
6975.176 0.83085
3848.396 0.93180
2805.392 0.96315
2257.120 0.97270
1692.835 0.98295
EOD
$d1 << EOD
19088.720 0.68400
12072.959 0.83085
6914.154 0.93180
4884.571 0.96315
3901.032 0.97270
2945.519 0.98295
EOD
$d2 << EOD
5503.862 0.69170
3059.892 0.84235
1858.328 0.93900
1846.086 0.96700
1444.868 0.97825
791.093 0.98740
EOD
$d3 << EOD
10987.330 0.69170
6974.224 0.84235
4340.272 0.93900
3226.167 0.96700
1921.428 0.97825
1404.038 0.98740
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
